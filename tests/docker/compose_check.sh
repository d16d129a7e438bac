#!/usr/bin/env bash
# Validates docker/docker-compose.native.yml with a real compose implementation (podman-compose,
# from PyPI, installed once into $HEADROOM_CI_CACHE/venv): `config` must resolve it, and the
# resolved service must publish on 127.0.0.1 only, restart unless-stopped, carry the healthcheck,
# mount the workspace and state folders and pass the env; `up --dry-run` must translate it into
# a container command line with the same properties. Missing required variables must fail.
# Prints `ok - …` / `not ok - …` lines (e2e.sh counts them); standalone it also prints the total.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib.sh"
COMPOSE_FILE="$ROOT/docker/docker-compose.native.yml"
PODMAN_COMPOSE_VERSION="1.6.0"

venv="$HEADROOM_CI_CACHE/venv"
if ! "$venv/bin/podman-compose" --version 2>/dev/null | grep -q "$PODMAN_COMPOSE_VERSION"; then
    mkdir -p "$HEADROOM_CI_CACHE"
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION"; } \
        >"$HEADROOM_CI_CACHE/pip.log" 2>&1
fi
PC="$venv/bin/podman-compose"
PY="$venv/bin/python"
if ! "$PC" --version >/dev/null 2>&1; then
    echo "not ok - podman-compose $PODMAN_COMPOSE_VERSION installed (see $HEADROOM_CI_CACHE/pip.log)"
    exit 1
fi

W="$(mktemp -d "${TMPDIR:-/tmp}/headroom-compose-check.XXXXXX")"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/home/.headroom" "$W/ws"
# A clean environment so the host's own HEADROOM_*/upstream variables cannot leak into the result.
cenv=(env -i PATH="$PATH" HOME="$W/home")

"${cenv[@]}" HEADROOM_HOST_HOME="$W/home" HEADROOM_WORKSPACE="$W/ws" \
    "$PC" -f "$COMPOSE_FILE" config >"$W/default.yml" 2>"$W/default.err"
echo "$?" >"$W/default.rc"
"${cenv[@]}" HEADROOM_HOST_HOME="$W/home" HEADROOM_WORKSPACE="$W/ws" HEADROOM_PORT=18787 \
    ANTHROPIC_TARGET_API_URL=http://127.0.0.1:9/anthropic HEADROOM_DEPLOYMENT_PROFILE=work \
    "$PC" -f "$COMPOSE_FILE" config >"$W/custom.yml" 2>"$W/custom.err"
echo "$?" >"$W/custom.rc"
"${cenv[@]}" HEADROOM_HOST_HOME="$W/home" \
    "$PC" -f "$COMPOSE_FILE" config >/dev/null 2>"$W/noworkspace.err"
echo "$?" >"$W/noworkspace.rc"
"${cenv[@]}" HEADROOM_WORKSPACE="$W/ws" \
    "$PC" -f "$COMPOSE_FILE" config >/dev/null 2>"$W/nohome.err"
echo "$?" >"$W/nohome.rc"
# --dry-run prints the podman commands `up` would run. It still runs a few queries (and would
# create the project network), so it talks to a stand-in podman that changes nothing.
cat >"$W/podman" <<'SH'
#!/bin/sh
case "$*" in
    *version*) echo "podman version 4.3.1" ;;
    ps*) echo "[]" ;;
esac
exit 0
SH
chmod +x "$W/podman"
"${cenv[@]}" HEADROOM_HOST_HOME="$W/home" HEADROOM_WORKSPACE="$W/ws" HEADROOM_PORT=18787 \
    ANTHROPIC_TARGET_API_URL=http://127.0.0.1:9/anthropic \
    "$PC" --podman-path "$W/podman" --verbose --dry-run --in-pod false -f "$COMPOSE_FILE" up -d proxy >"$W/dryrun.out" 2>&1
echo "$?" >"$W/dryrun.rc"

"$PY" - "$W" <<'EOF'
import os, re, sys
import yaml

W = sys.argv[1]
counts = [0, 0]

def check(ok, what):
    counts[0 if ok else 1] += 1
    print(("ok - " if ok else "not ok - ") + "compose: " + what)

def rc(name):
    return int(open(f"{W}/{name}.rc").read().strip())

def err(name):
    return open(f"{W}/{name}.err").read().strip().splitlines()[-1:] or [""]

def load(name):
    if rc(name) != 0:
        check(False, f"podman-compose config ({name}) exits 0: {err(name)[0]}")
        return None
    check(True, f"podman-compose config ({name}) resolves the file")
    return yaml.safe_load(open(f"{W}/{name}.yml"))["services"]["proxy"]

def env_of(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict((x.split("=", 1) + [None])[:2] for x in e)
    return e

def vols(svc):
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            src, dst = v.split(":")[:2]
        else:
            src, dst = v.get("source"), v.get("target")
        out.append((src, dst))
    return out

d = load("default")
if d:
    check(d.get("ports") == ["127.0.0.1:8787:8787"], f"default publish is 127.0.0.1:8787:8787 only ({d.get('ports')})")
    check(d.get("restart") == "unless-stopped", f"restart: unless-stopped ({d.get('restart')})")
    hc = d.get("healthcheck") or {}
    check(hc.get("test") == ["CMD", "headroom", "health", "--port", "8787"],
          f"healthcheck runs headroom health --port 8787 ({hc.get('test')})")
    check(all(hc.get(k) for k in ("interval", "timeout", "retries")), "healthcheck has interval, timeout, retries")
    e = env_of(d)
    want = {"HEADROOM_HOST": "0.0.0.0", "HEADROOM_PORT": "8787",
            "HEADROOM_WORKSPACE_DIR": "/tmp/headroom-home/.headroom",
            "HEADROOM_DEPLOYMENT_PROFILE": "compose", "HEADROOM_DEPLOYMENT_RUNTIME": "docker"}
    bad = {k: e.get(k) for k, v in want.items() if str(e.get(k)) != v}
    check(not bad, f"environment sets the listener, state root and deployment ({bad or 'all set'})")
    unset = {k: e.get(k) for k in ("ANTHROPIC_TARGET_API_URL", "OPENAI_TARGET_API_URL")}
    check(all(v is None for v in unset.values()),
          f"upstream URLs are passed through only when set on the host ({unset})")
    v = vols(d)
    check((f"{W}/ws", "/workspace") in v, f"HEADROOM_WORKSPACE is mounted at /workspace ({v})")
    check((f"{W}/home/.headroom", e.get("HEADROOM_WORKSPACE_DIR")) in v,
          "HEADROOM_HOST_HOME/.headroom is mounted at HEADROOM_WORKSPACE_DIR")
    check(d.get("working_dir") == "/workspace", f"working_dir /workspace ({d.get('working_dir')})")
    user = str(d.get("user") or "")
    check(user and not user.startswith(("0:", "root")) and user != "0", f"runs as a non-root user ({user!r})")
    b = d.get("build") or {}
    check(b.get("dockerfile") == "docker/Dockerfile" and os.path.isfile(os.path.join(b.get("context", ""), "docker/Dockerfile")),
          f"builds docker/Dockerfile from the repo root ({b})")

c = load("custom")
if c:
    check(c.get("ports") == ["127.0.0.1:18787:18787"], f"HEADROOM_PORT=18787 publishes 127.0.0.1:18787:18787 ({c.get('ports')})")
    check((c.get("healthcheck") or {}).get("test", [])[-1:] == ["18787"], "healthcheck follows HEADROOM_PORT")
    e = env_of(c)
    check(str(e.get("HEADROOM_PORT")) == "18787", "container HEADROOM_PORT follows HEADROOM_PORT")
    check(e.get("HEADROOM_DEPLOYMENT_PROFILE") == "work", "HEADROOM_DEPLOYMENT_PROFILE can be overridden")

check(rc("noworkspace") != 0 and "HEADROOM_WORKSPACE" in err("noworkspace")[0],
      f"unset HEADROOM_WORKSPACE is an error naming it ({err('noworkspace')[0][:120]})")
check(rc("nohome") != 0 and "HEADROOM_HOST_HOME" in err("nohome")[0],
      f"unset HEADROOM_HOST_HOME is an error naming it ({err('nohome')[0][:120]})")

out = open(f"{W}/dryrun.out").read()
line = next((l for l in out.splitlines() if re.search(r"podman (create|run) ", l)), "")
check(rc("dryrun") == 0 and line, "up --dry-run produces a container command")
if line:
    pubs = re.findall(r"(?:-p|--publish)[ =](\S+)", line)
    check(pubs == ["127.0.0.1:18787:18787"], f"container command publishes 127.0.0.1:18787:18787 only ({pubs})")
    check("--restart unless-stopped" in line, "container command has --restart unless-stopped")
    check(re.search(r"--health-cmd .*headroom.*health.*18787", line) is not None, "container command has the headroom health check")
    check(f"-v {W}/home/.headroom:/tmp/headroom-home/.headroom" in line, "container command mounts the state folder")
    check(re.search(r"(-u|--user) 1000:1000", line) is not None, "container command runs as 1000:1000")
    check("-e ANTHROPIC_TARGET_API_URL=http://127.0.0.1:9/anthropic" in line and "OPENAI_TARGET_API_URL" not in line,
          "a host upstream URL is passed in when set, and left out when not")
    check("-e HEADROOM_DEPLOYMENT_RUNTIME=docker" in line, "container command carries the deployment env")

if os.environ.get("COMPOSE_CHECK_STANDALONE"):
    print(f"{counts[0]} passed, {counts[1]} failed")
sys.exit(1 if counts[1] else 0)
EOF
