# Two entry points a fresh Debian/Ubuntu machine needs: `make run` and `make test`.
# Both install what is missing first (with sudo when not root) and are safe to repeat.

CARGO ?= cargo

.PHONY: run test setup-run setup-test build proxy bench bench-sessions deb fmt lint

## Build and start the Headroom desktop app (tray + window; it hosts the proxy on :8787).
run: setup-run
	$(CARGO) build --locked -p headroom-desktop -p headroom-cli
	./target/debug/headroom-desktop

## Install test dependencies, then run every suite; ends with `N passed, N failed`.
test: setup-test
	scripts/test-all.sh

## Only the headless proxy, in the foreground.
proxy:
	scripts/setup.sh build
	$(CARGO) run --locked -p headroom-cli -- proxy

build:
	scripts/setup.sh build
	$(CARGO) build --locked

## The Debian package of the desktop app (size-optimised release build).
deb: setup-run
	scripts/build-deb.sh release

## What real Claude Code and Codex sessions cost through Headroom vs --no-optimize (prompt-cache
## weighted); needs the pinned clients (`scripts/setup.sh test`). Numbers in docs/performance.md.
bench-sessions:
	scripts/setup.sh test
	$(CARGO) test --locked -p headroom-e2e --test real_sessions -- --nocapture --test-threads 1

bench:
	$(CARGO) bench --locked -p headroom-compress
	$(CARGO) build --locked --release -p headroom-cli
	$(CARGO) run --locked --release -p headroom-proxy --example bench

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	scripts/check-dep-fence.sh
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

setup-run:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test
