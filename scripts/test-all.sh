#!/usr/bin/env bash
# The whole test suite, in the order that gives the fastest useful signal: formatting, the
# dependency fence, lints (Linux, then the macOS and Windows code paths compiled from here by
# scripts/cross-check.sh), the headless crates, the desktop crate, then the end-to-end suites
# (GUI under Xvfb, the container under podman). Ends with one `N passed, N failed` line that
# adds up every suite.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
mkdir -p test-output
log=test-output/test-all.log
: >"$log"

passed=0
failed=0
failures=()

stage() {
    local name="$1"; shift
    echo "==> $name: $*"
    local start=$SECONDS out rc
    out="$(mktemp)"
    "$@" 2>&1 | tee "$out" | tee -a "$log"
    rc=${PIPESTATUS[0]}
    # Count cargo test results and the plain `N passed, N failed` lines of our scripts.
    local p f sp sf
    read -r p f < <(awk '/^test result: /{for(i=1;i<=NF;i++){if($(i)~/^passed;?$/)p+=$(i-1); if($(i)~/^failed;?$/)f+=$(i-1)}} END{print p+0, f+0}' "$out")
    read -r sp sf < <(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -1 |
        sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/'; echo)
    passed=$((passed + ${p:-0} + ${sp:-0}))
    failed=$((failed + ${f:-0} + ${sf:-0}))
    rm -f "$out"
    if [[ $rc -ne 0 ]]; then
        failures+=("$name")
        # A stage that failed without reporting a failing test still counts as one failure.
        if [[ ${f:-0} -eq 0 && ${sf:-0} -eq 0 ]]; then failed=$((failed + 1)); fi
        echo "==> $name FAILED (exit $rc, $((SECONDS - start)) s)"
    else
        echo "==> $name ok ($((SECONDS - start)) s)"
    fi
}

stage fmt cargo fmt --all --check
stage dep-fence scripts/check-dep-fence.sh
stage build cargo build --locked --workspace --all-targets
stage clippy cargo clippy --locked --workspace --all-targets -- -D warnings
stage cross scripts/cross-check.sh
stage unit-and-e2e cargo test --locked --workspace --no-fail-fast
stage fuzz scripts/fuzz-smoke.sh
if [[ -x tests/gui/run.sh ]]; then
    stage gui tests/gui/run.sh target/debug/headroom-desktop
fi
stage deb scripts/build-deb.sh debug
if [[ -x tests/docker/e2e.sh ]] && command -v podman >/dev/null 2>&1; then
    stage docker tests/docker/e2e.sh target/debug/headroom
fi

echo
if ((${#failures[@]})); then
    echo "failed stages: ${failures[*]}"
fi
echo "${passed} passed, ${failed} failed"
[[ ${#failures[@]} -eq 0 ]]
