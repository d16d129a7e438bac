#!/usr/bin/env bash
# A `docker` stand-in for tests: `HEADROOM_DOCKER=tests/docker/podman-as-docker.sh headroom install …`.
#
# Runs podman with the flags this VM needs (vfs, runc, cgroupfs; see lib.sh) and, for `run`,
# the host network plus ulimits and no systemd health timer. The host network shares the
# host's interfaces, so a mapping `-p 127.0.0.1:H:C` becomes `-e HEADROOM_HOST=127.0.0.1
# -e HEADROOM_PORT=H` (the proxy listens where the published port would have been, on loopback
# only) and a later HEADROOM_HOST=0.0.0.0 is rewritten to 127.0.0.1. Every argv is first
# appended, unmodified, to $HEADROOM_FAKE_DOCKER_LOG (one JSON array per line) so tests assert
# on what Headroom asked for.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib.sh"

if [[ -n "${HEADROOM_FAKE_DOCKER_LOG:-}" ]]; then
    python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >>"$HEADROOM_FAKE_DOCKER_LOG"
fi

if [[ "${1:-}" != run ]]; then
    exec podman "${PODMAN_GLOBAL_FLAGS[@]}" "$@"
fi
shift
args=(run --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --health-interval disable)
while (($#)); do
    case "$1" in
        -p | --publish | -p=* | --publish=*)
            if [[ "$1" == *=* ]]; then map="${1#*=}"; else shift; map="${1:-}"; fi
            IFS=: read -r -a parts <<<"$map"
            # [ip:]host:container -> the host port (second to last field).
            host_port="${parts[${#parts[@]} - 2]:-}"
            args+=(-e HEADROOM_HOST=127.0.0.1)
            [[ -n "$host_port" ]] && args+=(-e "HEADROOM_PORT=$host_port")
            ;;
        HEADROOM_HOST=0.0.0.0) args+=(HEADROOM_HOST=127.0.0.1) ;;
        *) args+=("$1") ;;
    esac
    shift
done
exec podman "${PODMAN_GLOBAL_FLAGS[@]}" "${args[@]}"
