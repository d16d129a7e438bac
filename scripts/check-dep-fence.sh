#!/usr/bin/env bash
# Fails when the headless crates pull in the webview stack. The CLI, the proxy and the Docker
# image must build on machines without GTK/WebKit; only `headroom-desktop` may depend on Tauri.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for pkg in headroom-cli headroom-proxy headroom-compress headroom-install headroom-protocol; do
    tree="$(cargo tree --locked -p "$pkg" -e normal,build --prefix none 2>&1)" || {
        echo "dep-fence: cargo tree failed for $pkg:" >&2
        echo "$tree" >&2
        exit 2
    }
    if offenders="$(grep -E '^(tauri|tauri-[a-z-]+|wry|webkit2gtk|webkit2gtk-sys|gtk|gtk-sys) v' <<<"$tree" | sort -u)" && [[ -n "$offenders" ]]; then
        echo "dep-fence: $pkg depends on the webview stack:" >&2
        echo "$offenders" >&2
        status=1
    else
        echo "dep-fence: $pkg is headless ($(wc -l <<<"$tree") dependency lines checked)"
    fi
done
exit "$status"
