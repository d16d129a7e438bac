#!/usr/bin/env bash
# Reproducible timing of `headroom install apply` (native, user scope) and `install status`,
# with the release binary on a fake HOME. Service commands go to the recording runner, so this
# measures Headroom's own work (plan, port check, edits, manifest, lock) without the proxy's
# start-up, which the targets exclude ("≤ 300 ms plus proxy start").
#
#   crates/headroom-install/bench/install-timing.sh [iterations]   (default 20)
#
# Prints min / median / max in milliseconds for apply, status (installed, proxy down) and remove.
# 2026-11-21, 2-core VM at load ≈ 7, n=20 (median/max): apply 43/56 ms, apply + real proxy
# until /readyz 61/103 ms, status 12/16 ms, remove 48/93 ms.
set -euo pipefail
N="${1:-20}"
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
BIN="${HEADROOM_BIN:-$ROOT/target/release/headroom}"
if [[ -z "${HEADROOM_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release --quiet -p headroom-cli)
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home" "$TMP/root" "$TMP/bin"
for t in claude codex zsh bash; do printf '#!/bin/sh\nexit 0\n' > "$TMP/bin/$t"; chmod +x "$TMP/bin/$t"; done
printf '# existing\nalias ll="ls -l"\n' > "$TMP/home/.bashrc"
printf 'export PATH=$PATH:/opt\n' > "$TMP/home/.zshrc"
run() {
    env -i HOME="$TMP/home" PATH="$TMP/bin:/usr/bin:/bin" HEADROOM_TEST_ROOT="$TMP/root" \
        HEADROOM_TEST_RUNNER_LOG="$TMP/runner.log" HEADROOM_TEST_SYSTEMD=1 "$BIN" "$@" > /dev/null
}
ms() { echo $(( ($2 - $1) / 1000000 )).$(( (($2 - $1) / 10000) % 100 )); }
stats() { sort -n | awk '{a[NR]=$1} END {printf "min %.2f  median %.2f  max %.2f ms (n=%d)\n", a[1], a[int((NR+1)/2)], a[NR], NR}'; }
: > "$TMP/apply" ; : > "$TMP/status" ; : > "$TMP/remove"
PORT=$(( 20000 + RANDOM % 20000 ))
for _ in $(seq "$N"); do
    s=$(date +%s%N); run install apply --yes --port "$PORT"; e=$(date +%s%N); ms "$s" "$e" >> "$TMP/apply"
    s=$(date +%s%N); run install status || true; e=$(date +%s%N); ms "$s" "$e" >> "$TMP/status"
    s=$(date +%s%N); run install remove; e=$(date +%s%N); ms "$s" "$e" >> "$TMP/remove"
done
# The same apply with everything real except the crontab (a fake on PATH keeps the machine's
# crontab untouched): the detached agent starts a real proxy and apply waits for /readyz.
printf '#!/bin/sh\nif [ "$1" = "-l" ]; then cat "%s/crontab" 2>/dev/null; exit 0; fi\ncat > "%s/crontab"\n' "$TMP" "$TMP" > "$TMP/bin/crontab"
chmod +x "$TMP/bin/crontab"
: > "$TMP/apply_real"
for _ in $(seq "$N"); do
    s=$(date +%s%N)
    env -i HOME="$TMP/home" PATH="$TMP/bin:/usr/bin:/bin" HEADROOM_TEST_ROOT="$TMP/root" HEADROOM_TEST_SYSTEMD=0 \
        "$BIN" install apply --yes --preset persistent-task --port "$PORT" > /dev/null
    e=$(date +%s%N); ms "$s" "$e" >> "$TMP/apply_real"
    env -i HOME="$TMP/home" PATH="$TMP/bin:/usr/bin:/bin" HEADROOM_TEST_ROOT="$TMP/root" HEADROOM_TEST_SYSTEMD=0 \
        "$BIN" install remove > /dev/null
done
echo "apply  (native, user scope, 2 tools, 3 rc files + unit): $(stats < "$TMP/apply")"
echo "apply  (task preset, real agent + proxy until /readyz):  $(stats < "$TMP/apply_real")"
echo "status (installed, proxy down):                        $(stats < "$TMP/status")"
echo "remove:                                                 $(stats < "$TMP/remove")"
