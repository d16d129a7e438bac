#!/usr/bin/env bash
# Compiles the macOS and Windows code paths on this Linux machine, so a `#[cfg(windows)]` or
# `#[cfg(target_os = "macos")]` branch can no longer rot unseen: `cargo clippy -D warnings` for
# x86_64-pc-windows-gnu and x86_64-apple-darwin, headless crates with their tests, then the
# desktop crate. Check only: nothing is linked or run, so no macOS SDK or Windows is needed.
# Ends with `cross: N passed, N failed` (one per crate set and target).
#
# What the build scripts of our dependencies need even for a check, and how it is provided:
# * ring (rustls' crypto) compiles C and assembly for the target. Windows: MinGW's gcc, found
#   by cc-rs under its default name. macOS: clang with `--target`, freestanding (no SDK libc
#   headers: ring's RING_CORE_NOSTDLIBINC mode) plus a three-line TargetConditionals.h stand-in
#   for the SDK header; the objects are never linked, only produced so the script succeeds.
# * mac-notification-sys and objc2-exception-helper (desktop, macOS) compile Objective-C against
#   Cocoa; both skip that when DOCS_RS is set (the switch docs.rs uses for the same reason:
#   type-checking needs none of it).
# * tauri-build embeds the Windows resource file with MinGW's windres.
#
# Uses its own target dir (target/cross) so it never invalidates the Linux build cache.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_TARGET_DIR="${CROSS_TARGET_DIR:-$PWD/target/cross}"

targets=(x86_64-pc-windows-gnu x86_64-apple-darwin)
headless=(-p headroom-proxy -p headroom-compress -p headroom-install -p headroom-cli -p headroom-testkit -p headroom-protocol)

# (a) Rust std for each target: idempotent, and the only download. Without it nothing here
# can run, which is the machine's limit, not a defect in the code: say so and skip.
installed="$(rustup target list --installed 2>/dev/null || true)"
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$installed"; then
        echo "cross: installing Rust std for $t"
        if ! out="$(rustup target add "$t" 2>&1)"; then
            echo "SKIP: cross: cannot install the Rust standard library for $t (rustup target add failed: $(tail -1 <<<"$out"))"
            exit 0
        fi
    fi
done

# (b) C cross compilers for the build scripts (apt, idempotent, sudo when not root).
scripts/setup.sh cross || { echo "cross: scripts/setup.sh cross failed" >&2; exit 2; }

# (c) macOS C settings for ring (see above).
shim="$CARGO_TARGET_DIR/shim-include"
mkdir -p "$shim"
cat >"$shim/TargetConditionals.h" <<'H'
/* Stand-in for the macOS SDK header, for check-only cross builds (scripts/cross-check.sh). */
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
H
export CC_x86_64_apple_darwin=clang AR_x86_64_apple_darwin=llvm-ar
export CFLAGS_x86_64_apple_darwin="-ffreestanding -nostdlibinc -DRING_CORE_NOSTDLIBINC -I$shim"

passed=0
failed=0
failures=()
check() {
    local name="$1"; shift
    local start=$SECONDS
    echo "cross: $name: $*"
    if "$@"; then
        passed=$((passed + 1))
        echo "cross: $name ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "cross: $name FAILED ($((SECONDS - start)) s)"
    fi
}

for t in "${targets[@]}"; do
    check "headless/$t" cargo clippy --locked --target "$t" "${headless[@]}" --all-targets -- -D warnings
done
for t in "${targets[@]}"; do
    env=()
    [[ "$t" == *-apple-* ]] && env=(DOCS_RS=1)
    check "desktop/$t" env "${env[@]}" cargo clippy --locked --target "$t" -p headroom-desktop --all-targets -- -D warnings
done

if ((${#failures[@]})); then
    echo "cross: failed: ${failures[*]}"
fi
echo "cross: ${passed} passed, ${failed} failed"
((failed == 0))
