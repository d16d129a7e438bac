#!/usr/bin/env bash
# Builds the Debian package of the desktop app (which doubles as the `headroom` CLI) with
# dpkg-deb, then checks it: metadata, file list, and that the unpacked binaries run. The app is
# three binaries: `headroom-desktop` (CLI, launcher entry), `headroom-tray`, the long-lived tray
# process it becomes, which must not link WebKitGTK (src-tauri/src/tray_app.rs), and
# `headroom-window`, which the tray runs while the window is open (src-tauri/src/window_host.rs).
#   scripts/build-deb.sh release   size-optimised build (the package we ship; slow on 2 cores)
#   scripts/build-deb.sh debug     packages the existing debug build (what CI checks)
# `cargo tauri build --bundles deb` (tauri-cli) produces an equivalent package; this script
# needs nothing beyond dpkg-deb, so CI can build a .deb without installing tauri-cli.
set -uo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
    release)
        cargo build --locked --profile release-desktop -p headroom-desktop --features tauri/custom-protocol || exit 1
        dir=target/release-desktop; compress=(-Zxz) ;;
    debug)
        [[ -x target/debug/headroom-desktop && -x target/debug/headroom-tray && -x target/debug/headroom-window ]] \
            || cargo build --locked -p headroom-desktop || exit 1
        dir=target/debug; compress=(-Zgzip -z1) ;;
    *) echo "usage: scripts/build-deb.sh release|debug" >&2; exit 2 ;;
esac

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
arch="$(dpkg --print-architecture)"
out="target/deb"
stage="$out/headroom_${version}_${arch}"
rm -rf "$stage" && mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/applications" \
    "$stage/usr/share/doc/headroom"
for b in headroom-desktop headroom-tray headroom-window; do
    strip --strip-unneeded -o "$stage/usr/bin/$b" "$dir/$b"
    chmod 0755 "$stage/usr/bin/$b"
done
# The app answers to the name `headroom` as the command-line tool.
ln -s headroom-desktop "$stage/usr/bin/headroom"
for size in 32x32 128x128; do
    mkdir -p "$stage/usr/share/icons/hicolor/$size/apps"
    cp "src-tauri/icons/$size.png" "$stage/usr/share/icons/hicolor/$size/apps/headroom.png"
done
mkdir -p "$stage/usr/share/icons/hicolor/256x256/apps"
cp src-tauri/icons/128x128@2x.png "$stage/usr/share/icons/hicolor/256x256/apps/headroom.png"
cat >"$stage/usr/share/applications/headroom.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Headroom
Comment=Local context-optimisation proxy for AI coding tools
Exec=headroom-desktop
StartupWMClass=headroom
Icon=headroom
Categories=Development;
Terminal=false
StartupNotify=false
DESKTOP
cp README.md "$stage/usr/share/doc/headroom/README.md"
installed_kb="$(du -sk "$stage/usr" | cut -f1)"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: headroom
Version: $version
Architecture: $arch
Maintainer: Headroom developers <maintainers@headroom.dev>
Installed-Size: $installed_kb
Depends: libwebkit2gtk-4.1-0, libgtk-3-0, libayatana-appindicator3-1
Section: devel
Priority: optional
Homepage: https://github.com/headroom-dev/headroom
Description: Local context-optimisation proxy for AI coding tools
 Headroom sits between coding tools (Claude Code, Codex, Copilot CLI, Aider,
 Cursor, OpenCode, OpenClaw) and their LLM providers on 127.0.0.1:8787 and
 shrinks bulky tool outputs to cut tokens. This package ships the tray app,
 which also answers to the name "headroom" as the command-line tool.
CONTROL
deb="$out/headroom_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null || exit 1

# Check what we built.
passed=0 failed=0
check() {
    local name="$1"; shift
    if "$@" >/dev/null 2>&1; then echo "ok - $name"; passed=$((passed + 1));
    else echo "not ok - $name"; failed=$((failed + 1)); fi
}
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
check "package metadata names headroom $version" bash -c "dpkg-deb -f '$deb' Package Version | tr '\n' ' ' | grep -q 'Package: headroom Version: $version'"
check "package depends on the WebKitGTK runtime" bash -c "dpkg-deb -f '$deb' Depends | grep -q libwebkit2gtk-4.1-0"
check "package lists the app, the tray, the window, the CLI name, the launcher and icons" bash -c "dpkg-deb -c '$deb' | grep -q './usr/bin/headroom-desktop' && dpkg-deb -c '$deb' | grep -q './usr/bin/headroom-tray' && dpkg-deb -c '$deb' | grep -q './usr/bin/headroom-window' && dpkg-deb -c '$deb' | grep -q './usr/bin/headroom -> headroom-desktop' && dpkg-deb -c '$deb' | grep -q 'applications/headroom.desktop' && dpkg-deb -c '$deb' | grep -q 'hicolor/128x128/apps/headroom.png'"
check "files are owned by root" bash -c "! dpkg-deb -c '$deb' | awk '{print \$2}' | grep -vq '^root/root$'"
dpkg-deb -x "$deb" "$unpacked"
check "unpacked CLI name prints the version" bash -c "'$unpacked/usr/bin/headroom' --version | grep -q 'headroom $version'"
check "unpacked CLI serves a proxy and answers health" bash -c "
    port=\$(python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])')
    '$unpacked/usr/bin/headroom' proxy --port \$port >/dev/null 2>&1 & pid=\$!
    for i in \$(seq 1 100); do '$unpacked/usr/bin/headroom' health --port \$port && break; sleep 0.05; done
    rc=\$?; kill \$pid; wait \$pid; exit \$rc"
check "the tray binary does not link WebKitGTK or JavaScriptCore" bash -c "
    readelf -d '$unpacked/usr/bin/headroom-tray' | grep -q 'NEEDED.*libgtk-3' &&
    ! readelf -d '$unpacked/usr/bin/headroom-tray' | grep -Eq 'NEEDED.*(webkit|javascriptcore|soup)'"
check "the tray binary is the CLI too" bash -c "'$unpacked/usr/bin/headroom-tray' proxy --help | grep -q -- '--port'"
check "the window binary runs only for the tray" bash -c "'$unpacked/usr/bin/headroom-window' 2>&1 | grep -q 'internal to the Headroom tray app'"
check "launcher entry is valid" bash -c "grep -q '^Exec=headroom-desktop$' '$unpacked/usr/share/applications/headroom.desktop'"
echo "built $deb ($(du -h "$deb" | cut -f1))"
echo "deb: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
