# shellcheck shell=bash
# Shared helpers for the container tests in tests/docker/.
#
# Why this exists: CI and dev machines have no Docker engine and no container registry,
# so the tests run the image with podman (vfs storage, runc, cgroupfs — the only combination
# that works in this VM) on a base image built locally from Debian packages with debootstrap.
# Everything is cached under $HEADROOM_CI_CACHE (default /var/tmp/headroom-ci) so only the
# first run pays for debootstrap.

HEADROOM_CI_CACHE="${HEADROOM_CI_CACHE:-/var/tmp/headroom-ci}"
BASE_IMAGE="${HEADROOM_TEST_BASE_IMAGE:-localhost/debian:bookworm-slim}"

# podman with the global flags that work here. Overridable for machines where the defaults work.
# The suite keeps its own store (under the cache) and run state: podman's default store may
# already exist with another storage driver (any `podman` typed on the machine creates it with
# overlay), and podman refuses a store whose driver does not match; nor should a test touch it.
read -r -a PODMAN_GLOBAL_FLAGS <<<"${HEADROOM_PODMAN_FLAGS:---root $HEADROOM_CI_CACHE/containers/storage --runroot /run/headroom-ci-containers --storage-driver vfs --runtime runc --cgroup-manager cgroupfs}"
pm() { podman "${PODMAN_GLOBAL_FLAGS[@]}" "$@"; }

# The Debian mirror apt is configured with (deb822 or one-line format).
debian_mirror() {
    local m=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        m=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null |
            grep -v -- '-security' | grep -m1 '/debian/\?$' || true)
    fi
    if [[ -z "$m" && -f /etc/apt/sources.list ]]; then
        m=$(awk '$1=="deb" {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list |
            grep -v -- '-security' | head -n1 || true)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

# Create $BASE_IMAGE if podman does not have it yet. Idempotent; the rootfs tarball is cached.
ensure_base_image() {
    if pm image exists "$BASE_IMAGE"; then
        return 0
    fi
    local tarball="$HEADROOM_CI_CACHE/debian-bookworm-minbase-ca.tar"
    mkdir -p "$HEADROOM_CI_CACHE"
    if [[ ! -s "$tarball" ]]; then
        command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; return 1; }
        local rootfs mirror
        rootfs=$(mktemp -d "$HEADROOM_CI_CACHE/rootfs.XXXXXX")
        mirror=$(debian_mirror)
        echo "# debootstrap bookworm (minbase) from $mirror" >&2
        if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$HEADROOM_CI_CACHE/debootstrap.log" 2>&1; then
            echo "debootstrap failed; see $HEADROOM_CI_CACHE/debootstrap.log" >&2
            tail -n 20 "$HEADROOM_CI_CACHE/debootstrap.log" >&2
            rm -rf "$rootfs"
            return 1
        fi
        # ca-certificates is included so docker/Dockerfile's runtime stage needs no apt (and no
        # network) on top of this base. Keep the image small: apt lists and caches are not needed at runtime.
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        # mktemp -d made the root 0700; "/" must be traversable by the image's non-root user.
        chmod 0755 "$rootfs"
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    echo "# importing $tarball as $BASE_IMAGE" >&2
    pm import --quiet "$tarball" "$BASE_IMAGE" >/dev/null
}

# A TCP port nobody listens on right now (the kernel picks it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
