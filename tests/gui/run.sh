#!/usr/bin/env bash
# GUI end-to-end tests of the Headroom desktop app on Linux, headless.
#
#   tests/gui/run.sh <path-to-app-binary> [test-name...]
#
# Sets up a private session bus (dbus-run-session), Xvfb, a StatusNotifierWatcher stand-in,
# dunst (notification daemon) and dbus-monitor (records Notify calls), then runs
# tests/gui/gui_test.py, which drives the real app over D-Bus (tray menu), loopback HTTP
# (/health) and WebDriver (WebKitWebDriver, real window). Screenshots, logs and metrics go to
# test-output/gui/. The last line is "N passed, N failed"; the exit code is non-zero on failure.
# GUI_SIGTERM_ROUNDS / GUI_QUIT_ROUNDS set the fail-open rounds (20 / 10 by default);
# GUI_DUMP_SMAPS=1 also saves each measured process's full /proc/PID/smaps there.
#
# Needs (Debian 12): xvfb xauth x11-utils xdotool imagemagick dbus dbus-x11 dunst
# webkit2gtk-driver libayatana-appindicator3-1, and Python with dbus-next (venv at .ci/.venv).
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 <path-to-app-binary> [test-name...]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
APP="$(realpath "$1")"
shift
PY="${HEADROOM_GUI_PYTHON:-$ROOT/.ci/.venv/bin/python}"
if [[ ! -x "$PY" ]]; then
  echo "error: $PY not found" >&2
  echo "hint: python3 -m venv .ci/.venv && .ci/.venv/bin/pip install dbus-next==0.2.3" >&2
  exit 2
fi
export GUI_OUT="$ROOT/test-output/gui"
rm -rf "$GUI_OUT"
mkdir -p "$GUI_OUT"

if [[ -z "${HEADROOM_GUI_INNER:-}" ]]; then
  # Re-run ourselves inside a private session bus.
  HEADROOM_GUI_INNER=1 exec dbus-run-session -- "$0" "$APP" "$@"
fi

PIDS=()
cleanup() {
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do
    kill "${PIDS[$i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Display.
DISP=":$(( (RANDOM % 400) + 100 ))"
Xvfb "$DISP" -screen 0 1280x800x24 -nolisten tcp >"$GUI_OUT/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY="$DISP"
for _ in $(seq 1 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.05; done
xdpyinfo >/dev/null 2>&1 || { echo "error: Xvfb did not start" >&2; exit 2; }
export NO_AT_BRIDGE=1

# Tray host stand-in (must run before the app registers).
export SNI_LOG="$GUI_OUT/sni.jsonl"
"$PY" "$ROOT/tests/gui/sni_watcher.py" "$SNI_LOG" 2>"$GUI_OUT/sni-watcher.log" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '"ready"' "$SNI_LOG" 2>/dev/null && break; sleep 0.05; done

# Notification daemon + a recorder of Notify calls.
export NOTIFY_LOG="$GUI_OUT/notifications.log"
dbus-monitor "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" >"$NOTIFY_LOG" 2>&1 &
PIDS+=($!)
dunst >"$GUI_OUT/dunst.log" 2>&1 &
PIDS+=($!)

set +e
"$PY" "$ROOT/tests/gui/gui_test.py" "$APP" "$@" 2>&1 | tee "$GUI_OUT/results.txt"
rc=${PIPESTATUS[0]}
set -e
exit "$rc"
