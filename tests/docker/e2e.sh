#!/usr/bin/env bash
# End-to-end test of the Headroom container image and docker/docker-compose.native.yml.
#
#   tests/docker/e2e.sh [path/to/headroom]        (default: target/debug/headroom)
#
# Builds the `runtime-prebuilt` target of docker/Dockerfile around the given host-built binary,
# on a Debian base image made locally with debootstrap (no registry needed; cached under
# $HEADROOM_CI_CACHE, default /var/tmp/headroom-ci), and runs it with podman:
#   1. with the host network on a free loopback port, against a loopback mock upstream:
#      /readyz, /livez, /health (+ deployment block), the image's own HEALTHCHECK, non-root,
#      requests relayed to the mock, state dir writable, no curl, graceful stop on SIGTERM;
#   2. with the image defaults in an isolated network namespace (0.0.0.0:8787 inside, healthy);
#   3. `headroom install apply --preset persistent-docker` (HEADROOM_DOCKER = a podman wrapper),
#      then status, stop, start, remove;
#   4. the compose file, through a real compose implementation (podman-compose): `config` and
#      `up --dry-run` (loopback-only publish, restart policy, healthcheck, mounts, env), then a
#      real `up -d proxy` / `down` with the image under test (host network override only).
# Prints `ok - …` / `not ok - …` per check and ends with `N passed, N failed`; exit 1 on failure.
#
# Needs: podman, runc, debootstrap (first run only), python3. Run as root (podman's vfs store
# and debootstrap). All test traffic stays on 127.0.0.1 (the default-config container has
# no network at all).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR
source "$HERE/lib.sh"

START=$SECONDS
passed=0
failed=0
timings=()
pass() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
# Counts the `ok - ` / `not ok - ` lines a helper printed.
tally() {
    local line
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) passed=$((passed + 1)) ;;
            "not ok - "*) failed=$((failed + 1)) ;;
        esac
        echo "$line"
    done
}
indent() { sed 's/^/#   /' | tail -n "${1:-20}"; }
finish() {
    timings+=("total $((SECONDS - START))s")
    echo "# timing: ${timings[*]}"
    echo "${passed} passed, ${failed} failed"
    [[ $failed -eq 0 ]] && exit 0 || exit 1
}

# ---------------------------------------------------------------------------------------------
# Preconditions
BIN_ARG="${1:-target/debug/headroom}"
if [[ -f "$BIN_ARG" ]]; then BIN="$(realpath "$BIN_ARG")"; else BIN="$(realpath -m "$ROOT/$BIN_ARG")"; fi
if [[ ! -x "$BIN" ]]; then
    fail "headroom binary exists: $BIN_ARG not found or not executable (build it: cargo build -p headroom-cli)"
    finish
fi
for tool in podman python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "$tool is installed (apt-get install podman runc debootstrap python3)"
        finish
    fi
done
VERSION="$("$BIN" --version | awk '{print $NF}')"

SUFFIX="$$-$RANDOM"
IMAGE="localhost/headroom-e2e:$SUFFIX"
NAME="headroom-e2e-$SUFFIX"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/headroom-docker-e2e.XXXXXX")"
MOCK_PID=""
# --health-interval disable: no systemd here to schedule probes; `podman healthcheck run` still
# runs the image's HEALTHCHECK on demand. The ulimits: this VM refuses runc's defaults.
read -r -a RUN_FLAGS <<<"${HEADROOM_PODMAN_RUN_FLAGS:---ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --health-interval disable}"
BUILD_FLAGS=(--network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --layers=false --format docker)

images_before="$(pm images -q --no-trunc 2>/dev/null | sort -u)"
cleanup() {
    pm rm -f -v -t 0 "$NAME" "$NAME-default" "hre2e$$_proxy_1" ${WCNT:+"$WCNT"} >/dev/null 2>&1
    pm network rm -f "hre2e$$_default" >/dev/null 2>&1
    if [[ -n "${PROF:-}" ]]; then
        pm rm -f -v -t 0 "headroom-$PROF" >/dev/null 2>&1
        pm volume rm -f "headroom-$PROF-state" >/dev/null 2>&1
    fi
    [[ -n "$MOCK_PID" ]] && kill "$MOCK_PID" 2>/dev/null
    pm rmi -f "$IMAGE" >/dev/null 2>&1
    # Intermediate stage images this run created (dangling after the tag is gone).
    local id
    for id in $(pm images -q --no-trunc --filter dangling=true 2>/dev/null | sort -u); do
        grep -qx "$id" <<<"$images_before" || pm rmi -f "$id" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 1. Base image (debootstrap once, then cached) and the image under test
t=$SECONDS
if ensure_base_image 2>"$WORK/base.log"; then
    pass "base image $BASE_IMAGE available"
else
    fail "base image $BASE_IMAGE could not be created"; indent <"$WORK/base.log"
    finish
fi
timings+=("base-image $((SECONDS - t))s")

t=$SECONDS
mkdir -p "$WORK/ctx"
cp "$BIN" "$WORK/ctx/headroom"
if pm build "${BUILD_FLAGS[@]}" -f "$ROOT/docker/Dockerfile" --target runtime-prebuilt \
    --build-arg "RUNTIME_IMAGE=$BASE_IMAGE" --build-arg HEADROOM_BINARY=headroom \
    -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1; then
    pass "docker/Dockerfile target runtime-prebuilt builds"
else
    fail "docker/Dockerfile target runtime-prebuilt builds"; indent 30 <"$WORK/build.log"
    finish
fi
timings+=("image-build $((SECONDS - t))s")

pm image inspect "$IMAGE" >"$WORK/image.json" 2>/dev/null
python3 - "$WORK/image.json" <<'EOF' >"$WORK/checks.out"
import json, sys
img = json.load(open(sys.argv[1]))[0]
cfg = img.get("Config") or {}
def check(ok, what):
    print(("ok - " if ok else "not ok - ") + what)
user = cfg.get("User") or ""
check(user not in ("", "0", "root") and not user.startswith(("0:", "root:")), f"image USER is non-root ({user!r})")
check(cfg.get("Entrypoint") == ["headroom", "proxy"], f"ENTRYPOINT is headroom proxy ({cfg.get('Entrypoint')})")
env = dict(e.split("=", 1) for e in cfg.get("Env") or [])
for k, v in [("HEADROOM_HOST", "0.0.0.0"), ("HEADROOM_PORT", "8787"),
             ("HEADROOM_WORKSPACE_DIR", "/tmp/headroom-home/.headroom")]:
    check(env.get(k) == v, f"image env {k}={v} (got {env.get(k)!r})")
hc = img.get("Healthcheck") or img.get("HealthCheck") or cfg.get("Healthcheck") or {}
test = " ".join(hc.get("Test") or [])
check("headroom health" in test and "--port" in test and "curl" not in test,
      f"HEALTHCHECK runs `headroom health --port …` ({test!r})")
check("8787/tcp" in (cfg.get("ExposedPorts") or {}), "EXPOSE 8787")
check(not (cfg.get("Volumes") or {}), f"no anonymous VOLUME (it would leak one per re-created container): {cfg.get('Volumes')}")
check(cfg.get("StopSignal") in ("SIGTERM", "15", None), f"stop signal is SIGTERM ({cfg.get('StopSignal')})")
EOF
tally <"$WORK/checks.out"

# ---------------------------------------------------------------------------------------------
# 2. Run against a loopback mock upstream (host network, so the port is the host's loopback)
python3 "$HERE/mock_upstream.py" "$WORK/upstream.jsonl" >"$WORK/mock.port" 2>"$WORK/mock.log" &
MOCK_PID=$!
for _ in $(seq 50); do [[ -s "$WORK/mock.port" ]] && break; sleep 0.1; done
MOCK_PORT="$(head -n1 "$WORK/mock.port")"
if [[ -z "$MOCK_PORT" ]]; then
    fail "mock upstream started"; indent <"$WORK/mock.log"
    finish
fi
PORT="$(free_port)"
mkdir -p "$WORK/state"
chown 1000:1000 "$WORK/state" 2>/dev/null || chmod 0777 "$WORK/state"

t=$SECONDS
# HEADROOM_HOST=127.0.0.1: with --network host the container shares the host's interfaces;
# the image default 0.0.0.0 is exercised in its own namespace in part 3.
if ! pm run -d --name "$NAME" --network host "${RUN_FLAGS[@]}" \
    -e HEADROOM_HOST=127.0.0.1 -e "HEADROOM_PORT=$PORT" \
    -e "ANTHROPIC_TARGET_API_URL=http://127.0.0.1:$MOCK_PORT" \
    -e "OPENAI_TARGET_API_URL=http://127.0.0.1:$MOCK_PORT" \
    -e HEADROOM_DEPLOYMENT_PROFILE=e2e -e HEADROOM_DEPLOYMENT_PRESET=persistent-docker \
    -e HEADROOM_DEPLOYMENT_RUNTIME=docker -e HEADROOM_DEPLOYMENT_SUPERVISOR=none \
    -e HEADROOM_DEPLOYMENT_SCOPE=user \
    -v "$WORK/state:/tmp/headroom-home/.headroom" \
    "$IMAGE" >"$WORK/run.log" 2>&1; then
    fail "container starts"; indent <"$WORK/run.log"
    finish
fi
BASE="http://127.0.0.1:$PORT"
if python3 "$HERE/httpc.py" wait "$BASE/readyz" 30 2>"$WORK/wait.log"; then
    pass "container answers /readyz 200 on 127.0.0.1:$PORT ($((SECONDS - t))s after run)"
else
    fail "container answers /readyz on 127.0.0.1:$PORT"; indent <"$WORK/wait.log"
    pm logs "$NAME" 2>&1 | indent
    finish
fi
timings+=("start-to-ready $((SECONDS - t))s")

python3 "$HERE/httpc.py" get "$BASE/livez" >"$WORK/livez" 2>&1
[[ "$(head -n1 "$WORK/livez")" == 200 ]] && pass "/livez 200" || { fail "/livez 200"; indent <"$WORK/livez"; }

python3 "$HERE/httpc.py" get "$BASE/health" >"$WORK/health" 2>&1
python3 - "$WORK/health" "$VERSION" <<'EOF' >"$WORK/checks.out"
import json, sys
lines = open(sys.argv[1]).read().split("\n", 1)
def check(ok, what):
    print(("ok - " if ok else "not ok - ") + what)
check(lines[0] == "200", f"/health 200 (got {lines[0]})")
try:
    h = json.loads(lines[1])
except Exception as e:
    check(False, f"/health is JSON ({e})")
    sys.exit()
check(h.get("status") == "healthy" and h.get("ready") is True, f"/health status healthy, ready true ({h.get('status')}, {h.get('ready')})")
check(h.get("version") == sys.argv[2], f"/health version is the binary's ({h.get('version')} vs {sys.argv[2]})")
want = {"profile": "e2e", "preset": "persistent-docker", "runtime": "docker", "supervisor": "none", "scope": "user"}
check(h.get("deployment") == want, f"/health deployment block from HEADROOM_DEPLOYMENT_* ({h.get('deployment')})")
EOF
tally <"$WORK/checks.out"

if out="$(pm healthcheck run "$NAME" 2>&1)"; then
    pass "image HEALTHCHECK (podman healthcheck run) reports healthy"
else
    fail "image HEALTHCHECK (podman healthcheck run) reports healthy"; indent <<<"$out"
fi
if out="$(pm exec "$NAME" headroom health --port "$PORT" 2>&1)" && [[ "$out" == ready:* ]]; then
    pass "headroom health --port $PORT inside the container exits 0 ($out)"
else
    fail "headroom health --port $PORT inside the container exits 0"; indent <<<"$out"
fi
UNUSED="$(free_port)"
pm exec "$NAME" headroom health --port "$UNUSED" --timeout-ms 500 >"$WORK/h1" 2>&1
rc=$?
[[ $rc -eq 1 ]] && pass "headroom health exits 1 when nothing listens" || { fail "headroom health exits 1 when nothing listens (got $rc)"; indent <"$WORK/h1"; }

uid="$(pm exec "$NAME" id -u 2>&1)"
[[ "$uid" =~ ^[0-9]+$ && "$uid" -ne 0 ]] && pass "processes in the container run as uid $uid (non-root)" || fail "container runs as non-root (id -u: $uid)"
pid="$(pm inspect -f '{{.State.Pid}}' "$NAME" 2>/dev/null)"
if [[ -n "$pid" && -r "/proc/$pid/status" ]]; then
    uids="$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")"
    exe="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
    if [[ "$exe" == headroom\ proxy* ]] && ! grep -qw 0 <<<"$uids"; then
        pass "the proxy process (host pid $pid: $exe) has no root uid ($uids)"
    else
        fail "the proxy process is headroom proxy without a root uid (cmdline '$exe', uids $uids)"
    fi
else
    fail "container main process visible on the host (pid '$pid')"
fi

body='{"model":"claude-mock","max_tokens":16,"messages":[{"role":"user","content":"ping from docker e2e"}]}'
python3 "$HERE/httpc.py" post "$BASE/v1/messages" "$body" "x-api-key: sk-ant-e2e-secret" "anthropic-version: 2023-06-01" >"$WORK/msg" 2>&1
obody='{"model":"gpt-mock","messages":[{"role":"user","content":"ping openai from docker e2e"}]}'
python3 "$HERE/httpc.py" post "$BASE/v1/chat/completions" "$obody" "authorization: Bearer sk-e2e-openai" >"$WORK/chat" 2>&1
python3 - "$WORK/msg" "$WORK/chat" "$WORK/upstream.jsonl" <<'EOF' >"$WORK/checks.out"
import json, os, sys
def check(ok, what):
    print(("ok - " if ok else "not ok - ") + what)
msg = open(sys.argv[1]).read().split("\n", 1)
chat = open(sys.argv[2]).read().split("\n", 1)
check(msg[0] == "200" and "pong from mock upstream" in msg[1], f"POST /v1/messages relayed, mock's answer returned (HTTP {msg[0]})")
check(chat[0] == "200" and "pong from mock upstream" in chat[1], f"POST /v1/chat/completions relayed (HTTP {chat[0]})")
rec = [json.loads(l) for l in open(sys.argv[3])] if os.path.exists(sys.argv[3]) else []
anth = [r for r in rec if r["path"].startswith("/v1/messages")]
oai = [r for r in rec if r["path"].startswith("/v1/chat/completions")]
check(len(anth) == 1 and anth[0]["headers"].get("x-api-key") == "sk-ant-e2e-secret"
      and "ping from docker e2e" in anth[0]["body"],
      f"mock upstream got the Anthropic request with the caller's key ({len(anth)} request(s))")
check(len(oai) == 1 and oai[0]["headers"].get("authorization") == "Bearer sk-e2e-openai",
      f"mock upstream got the OpenAI request with the caller's auth ({len(oai)} request(s))")
EOF
tally <"$WORK/checks.out"

if pm exec "$NAME" sh -c 'touch "$HEADROOM_WORKSPACE_DIR/.e2e-write"' >"$WORK/w" 2>&1 &&
    [[ "$(stat -c %u "$WORK/state/.e2e-write" 2>/dev/null)" == "$uid" ]]; then
    pass "HEADROOM_WORKSPACE_DIR (mounted state dir) is writable by the proxy user"
else
    fail "HEADROOM_WORKSPACE_DIR (mounted state dir) is writable by the proxy user"; indent <"$WORK/w"
fi
if pm exec "$NAME" sh -c 'command -v curl || command -v wget' >/dev/null 2>&1; then
    fail "image ships no curl/wget (the healthcheck uses the binary)"
else
    pass "image ships no curl/wget (the healthcheck uses the binary)"
fi

t0="$(date +%s%N)"
pm stop -t 10 "$NAME" >/dev/null 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
code="$(pm inspect -f '{{.State.ExitCode}}' "$NAME" 2>/dev/null)"
if [[ "$code" == 0 && $ms -lt 5000 ]]; then
    pass "podman stop: SIGTERM stops the proxy cleanly (exit 0 in ${ms} ms)"
else
    fail "podman stop: SIGTERM stops the proxy cleanly (exit '$code' after ${ms} ms)"; pm logs "$NAME" 2>&1 | indent
fi
if python3 "$HERE/httpc.py" get "$BASE/livez" >/dev/null 2>&1; then
    fail "port $PORT released after stop"
else
    pass "port $PORT released after stop"
fi
pm rm -f -v -t 0 "$NAME" >/dev/null 2>&1

# ---------------------------------------------------------------------------------------------
# 3. Image defaults, in the container's own (empty) network namespace: the proxy must listen
#    on 0.0.0.0:8787 and the HEALTHCHECK (default port) must turn healthy.
t=$SECONDS
if pm run -d --name "$NAME-default" --network none "${RUN_FLAGS[@]}" "$IMAGE" >"$WORK/run2.log" 2>&1; then
    healthy=""
    for _ in $(seq 100); do
        if pm healthcheck run "$NAME-default" >/dev/null 2>&1; then healthy=1; break; fi
        [[ "$(pm inspect -f '{{.State.Running}}' "$NAME-default" 2>/dev/null)" == true ]] || break
        sleep 0.2
    done
    if [[ -n "$healthy" ]]; then
        pass "image defaults: HEALTHCHECK healthy on the default port ($((SECONDS - t))s)"
    else
        fail "image defaults: HEALTHCHECK healthy on the default port"; pm logs "$NAME-default" 2>&1 | indent
    fi
    # /proc/net/tcp: local address 00000000:2253 (0.0.0.0:8787) in state 0A (LISTEN).
    if pm exec "$NAME-default" cat /proc/net/tcp 2>/dev/null | awk '$2 == "00000000:2253" && $4 == "0A" {f=1} END {exit !f}'; then
        pass "image defaults: listens on 0.0.0.0:8787 inside its network namespace"
    else
        fail "image defaults: listens on 0.0.0.0:8787 inside its network namespace"
    fi
    pm rm -f -v -t 0 "$NAME-default" >/dev/null 2>&1
else
    fail "image defaults: container starts with --network none"; indent <"$WORK/run2.log"
fi

# ---------------------------------------------------------------------------------------------
# 4. `headroom install apply --preset persistent-docker` with this image, then status, stop,
#    start and remove. HEADROOM_DOCKER points at podman-as-docker.sh, which logs every argv.
t=$SECONDS
PROF="de2e$$"
IPORT="$(free_port)"
mkdir -p "$WORK/home"
DLOG="$WORK/docker-argv.jsonl"
install_env=(env -i PATH="$PATH" HOME="$WORK/home" HEADROOM_TEST_SYSTEMD=0
    HEADROOM_DOCKER="$HERE/podman-as-docker.sh" HEADROOM_FAKE_DOCKER_LOG="$DLOG"
    ANTHROPIC_TARGET_API_URL="http://127.0.0.1:$MOCK_PORT")
hr() { "${install_env[@]}" "$BIN" install "$@" --profile "$PROF"; }
IBASE="http://127.0.0.1:$IPORT"
if hr apply --preset persistent-docker --port "$IPORT" --image "$IMAGE" --yes >"$WORK/apply.log" 2>&1; then
    pass "install: apply --preset persistent-docker exits 0 ($((SECONDS - t))s)"
else
    fail "install: apply --preset persistent-docker exits 0"; indent <"$WORK/apply.log"
fi
python3 "$HERE/httpc.py" get "$IBASE/health" >"$WORK/ihealth" 2>&1
python3 "$HERE/httpc.py" post "$IBASE/v1/messages" "$body" "x-api-key: sk-ant-install-e2e" "anthropic-version: 2023-06-01" >"$WORK/imsg" 2>&1
python3 "$HERE/check_install_run.py" "$DLOG" "$IPORT" "$IMAGE" "$PROF" "$WORK/ihealth" "$WORK/imsg" "$WORK/upstream.jsonl" >"$WORK/checks.out" 2>&1
tally <"$WORK/checks.out"
CNAME="headroom-$PROF"
if [[ "$(pm inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$CNAME" 2>/dev/null)" == unless-stopped ]]; then
    pass "install: container $CNAME has restart policy unless-stopped"
else
    fail "install: container $CNAME has restart policy unless-stopped"
fi
if pm healthcheck run "$CNAME" >"$WORK/ihc" 2>&1; then
    pass "install: image HEALTHCHECK healthy on port $IPORT (follows HEADROOM_PORT)"
else
    fail "install: image HEALTHCHECK healthy on port $IPORT"; indent <"$WORK/ihc"
fi
if pm exec "$CNAME" sh -c 'touch "$HEADROOM_WORKSPACE_DIR/.e2e-write"' >"$WORK/iw" 2>&1; then
    pass "install: the state volume is writable by the proxy user"
else
    fail "install: the state volume is writable by the proxy user"; indent <"$WORK/iw"
fi
if hr status --json >"$WORK/istatus" 2>&1 &&
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(not (s.get("running") and s.get("ready")))' "$WORK/istatus"; then
    pass "install: status --json reports running and ready"
else
    fail "install: status --json reports running and ready"; indent <"$WORK/istatus"
fi
if hr stop >"$WORK/istop" 2>&1 && ! python3 "$HERE/httpc.py" get "$IBASE/livez" >/dev/null 2>&1 &&
    [[ "$(pm inspect -f '{{.State.Running}}' "$CNAME" 2>/dev/null)" != true ]]; then
    pass "install: stop stops the container and frees port $IPORT"
else
    fail "install: stop stops the container and frees port $IPORT"; indent <"$WORK/istop"
fi
if hr start >"$WORK/istart" 2>&1 && python3 "$HERE/httpc.py" wait "$IBASE/readyz" 10 2>>"$WORK/istart"; then
    pass "install: start brings it back ready"
else
    fail "install: start brings it back ready"; indent <"$WORK/istart"
fi
if hr remove >"$WORK/iremove" 2>&1 && ! pm container exists "$CNAME" 2>/dev/null &&
    [[ ! -e "$WORK/home/.headroom/deploy/$PROF" ]]; then
    pass "install: remove deletes the container and the profile"
else
    fail "install: remove deletes the container and the profile"; indent <"$WORK/iremove"
fi
left="$(pm volume ls -q --filter "name=$CNAME" 2>/dev/null | tr '\n' ' ')"
if [[ -z "${left// /}" ]]; then
    pass "install: remove leaves no volume behind"
else
    fail "install: remove leaves no volume behind ($left)"
fi
timings+=("install-lifecycle $((SECONDS - t))s")

# 4b. The docker runtime under persistent-task (issue 15): no systemd and no cron here
#     (HEADROOM_TEST_CRON=0), so a shell hook is the supervisor; the agent runs on the host and
#     supervises the container in the foreground (`run --rm`, no restart policy).
t=$SECONDS
TPROF="dt2e$$"
TPORT="$(free_port)"
TBASE="http://127.0.0.1:$TPORT"
TCNAME="headroom-$TPROF"
hrt() { "${install_env[@]}" HEADROOM_TEST_CRON=0 "$BIN" install "$@" --profile "$TPROF"; }
if hrt apply --preset persistent-task --runtime docker --port "$TPORT" --image "$IMAGE" --yes >"$WORK/tapply.log" 2>&1 &&
    python3 "$HERE/httpc.py" wait "$TBASE/readyz" 30 2>>"$WORK/tapply.log"; then
    pass "install: apply --preset persistent-task --runtime docker serves on port $TPORT ($((SECONDS - t))s)"
else
    fail "install: apply --preset persistent-task --runtime docker serves on port $TPORT"; indent <"$WORK/tapply.log"
    indent <"$WORK/home/.headroom/deploy/$TPROF/runner.log" 2>/dev/null
fi
python3 "$HERE/httpc.py" get "$TBASE/health" >"$WORK/thealth" 2>&1
# httpc.py prints the status line, then the body.
if python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().split("\n",1)[1])["deployment"]; sys.exit(not (d["preset"]=="persistent-task" and d["runtime"]=="docker" and d["profile"]==sys.argv[2]))' "$WORK/thealth" "$TPROF"; then
    pass "install: /health reports persistent-task with the docker runtime"
else
    fail "install: /health reports persistent-task with the docker runtime"; indent <"$WORK/thealth"
fi
if [[ "$(pm inspect -f '{{.HostConfig.AutoRemove}}' "$TCNAME" 2>/dev/null)" == true ]]; then
    pass "install: the task's container runs in the foreground with --rm"
else
    fail "install: the task's container runs in the foreground with --rm"
fi
if grep -q "install agent ensure --profile $TPROF" "$WORK/home/.bashrc" 2>/dev/null; then
    pass "install: no systemd or cron: the shell hook is the supervisor"
else
    fail "install: no systemd or cron: the shell hook is the supervisor"; indent <"$WORK/tapply.log"
fi
pm kill "$TCNAME" >/dev/null 2>&1
sleep 1
if python3 "$HERE/httpc.py" wait "$TBASE/readyz" 30 2>"$WORK/trestart"; then
    pass "install: a killed container is started again by the agent"
else
    fail "install: a killed container is started again by the agent"; indent <"$WORK/trestart"
fi
if hrt stop >"$WORK/tstop" 2>&1 && ! python3 "$HERE/httpc.py" get "$TBASE/livez" >/dev/null 2>&1 &&
    ! pm container exists "$TCNAME" 2>/dev/null; then
    pass "install: stop takes the agent and its container down"
else
    fail "install: stop takes the agent and its container down"; indent <"$WORK/tstop"
fi
if hrt start >"$WORK/tstart" 2>&1 && python3 "$HERE/httpc.py" wait "$TBASE/readyz" 30 2>>"$WORK/tstart"; then
    pass "install: start brings the container back ready"
else
    fail "install: start brings the container back ready"; indent <"$WORK/tstart"
fi
if hrt remove >"$WORK/tremove" 2>&1 && ! pm container exists "$TCNAME" 2>/dev/null &&
    [[ ! -e "$WORK/home/.headroom/deploy/$TPROF" ]] && [[ ! -e "$WORK/home/.bashrc" ]] &&
    ! python3 "$HERE/httpc.py" get "$TBASE/livez" >/dev/null 2>&1; then
    pass "install: remove stops it and takes the container, the hook and the profile away"
else
    fail "install: remove stops it and takes the container, the hook and the profile away"; indent <"$WORK/tremove"
fi
timings+=("install-task-docker $((SECONDS - t))s")

# `headroom wrap --runtime docker claude` with this image: a fake `claude` sends one request
# through the port wrap wired it to; the container must be gone after the tool exits.
t=$SECONDS
WPORT="$(free_port)"
WCNT="headroom-wrap-$WPORT"
mkdir -p "$WORK/bin" "$WORK/whome"
cat >"$WORK/bin/claude" <<SH
#!/bin/sh
python3 "$HERE/httpc.py" post "\$ANTHROPIC_BASE_URL/v1/messages" '$body' "x-api-key: sk-ant-wrap-e2e" "anthropic-version: 2023-06-01"
exit 7
SH
chmod +x "$WORK/bin/claude"
env -i PATH="$WORK/bin:$PATH" HOME="$WORK/whome" HEADROOM_DOCKER="$HERE/podman-as-docker.sh" \
    HEADROOM_FAKE_DOCKER_LOG="$WORK/wrap-argv.jsonl" HEADROOM_DOCKER_IMAGE="$IMAGE" \
    ANTHROPIC_TARGET_API_URL="http://127.0.0.1:$MOCK_PORT" \
    timeout 120 "$BIN" wrap --runtime docker --port "$WPORT" claude >"$WORK/wrap.out" 2>"$WORK/wrap.err"
rc=$?
if [[ $rc -eq 7 ]] && grep -q "pong from mock upstream" "$WORK/wrap.out" &&
    grep -q '"x-api-key": "sk-ant-wrap-e2e"' "$WORK/upstream.jsonl"; then
    pass "wrap --runtime docker: the tool's request goes through the container; exit code 7 kept ($((SECONDS - t))s)"
else
    fail "wrap --runtime docker: tool request through the container, exit code kept (rc=$rc)"
    indent <"$WORK/wrap.out"; indent <"$WORK/wrap.err"
fi
if python3 - "$WORK/wrap-argv.jsonl" "$WPORT" "$IMAGE" <<'PY'; then
import json, sys
runs = [a for a in (json.loads(l) for l in open(sys.argv[1])) if a[:1] == ["run"]]
a = runs[0] if len(runs) == 1 else []
pubs = [a[i + 1] for i, x in enumerate(a[:-1]) if x in ("-p", "--publish")]
sys.exit(not (a and pubs and all(p.startswith(f"127.0.0.1:{sys.argv[2]}:") for p in pubs) and a[-1] == sys.argv[3]))
PY
    pass "wrap --runtime docker: one docker run, published on 127.0.0.1:$WPORT only, image last"
else
    fail "wrap --runtime docker: one docker run, published on 127.0.0.1 only"; indent <"$WORK/wrap-argv.jsonl"
fi
gone=""
for _ in $(seq 75); do
    if ! pm container exists "$WCNT" 2>/dev/null; then gone=1; break; fi
    sleep 0.2
done
if [[ -n "$gone" ]]; then
    pass "wrap --runtime docker: the container is removed after the tool exits"
else
    fail "wrap --runtime docker: the container is removed after the tool exits"
fi
timings+=("wrap $((SECONDS - t))s")

# ---------------------------------------------------------------------------------------------
# 5. docker/docker-compose.native.yml through a real compose implementation
t=$SECONDS
"$HERE/compose_check.sh" >"$WORK/checks.out" 2>&1
tally <"$WORK/checks.out"

# And `up` for real with the image under test. The only override: the host network (no
# bridge traffic on this machine), so HEADROOM_HOST moves to 127.0.0.1 and `ports` is unused.
PC="$HEADROOM_CI_CACHE/venv/bin/podman-compose"
CPROJ="hre2e$$"
CPORT="$(free_port)"
mkdir -p "$WORK/chome/.headroom" "$WORK/cws"
chown 1000:1000 "$WORK/chome/.headroom" 2>/dev/null || chmod 0777 "$WORK/chome/.headroom"
cat >"$WORK/compose.override.yml" <<'YAML'
services:
  proxy:
    network_mode: host
    environment:
      - HEADROOM_HOST=127.0.0.1
  cli:
    network_mode: host
YAML
compose() {
    env HEADROOM_IMAGE="$IMAGE" HEADROOM_HOST_HOME="$WORK/chome" HEADROOM_WORKSPACE="$WORK/cws" \
        HEADROOM_PORT="$CPORT" "$PC" --in-pod false --podman-args="${PODMAN_GLOBAL_FLAGS[*]}" \
        --podman-run-args="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024" -p "$CPROJ" \
        -f "$ROOT/docker/docker-compose.native.yml" -f "$WORK/compose.override.yml" "$@"
}
CNT="${CPROJ}_proxy_1"
if compose up -d proxy >"$WORK/cup.log" 2>&1 && python3 "$HERE/httpc.py" wait "http://127.0.0.1:$CPORT/readyz" 30 2>>"$WORK/cup.log"; then
    pass "compose: up -d proxy serves /readyz on port $CPORT"
    python3 "$HERE/httpc.py" get "http://127.0.0.1:$CPORT/health" >"$WORK/chealth" 2>&1
    if python3 -c 'import json,sys; h=json.loads(open(sys.argv[1]).read().split("\n",1)[1]); sys.exit(h.get("deployment") != {"profile":"compose","preset":"docker-compose","runtime":"docker","supervisor":"docker-compose","scope":"user"})' "$WORK/chealth"; then
        pass "compose: /health shows the compose deployment block"
    else
        fail "compose: /health shows the compose deployment block"; indent <"$WORK/chealth"
    fi
    if pm healthcheck run "$CNT" >"$WORK/chc" 2>&1; then pass "compose: the service healthcheck passes"; else
        fail "compose: the service healthcheck passes"; indent <"$WORK/chc"; fi
    if compose --profile cli run --rm cli health --port "$CPORT" >"$WORK/ccli" 2>&1; then
        pass "compose: \`run --rm cli health\` reaches the proxy"
    else
        fail "compose: \`run --rm cli health\` reaches the proxy"; indent <"$WORK/ccli"
    fi
    out="$(pm exec "$CNT" sh -c 'id -u; pwd; touch "$HEADROOM_WORKSPACE_DIR/.compose-write"' 2>&1)"
    if [[ "$out" == $'1000\n/workspace' && "$(stat -c %u "$WORK/chome/.headroom/.compose-write" 2>/dev/null)" == 1000 ]]; then
        pass "compose: runs as 1000 in /workspace; state lands in HEADROOM_HOST_HOME/.headroom"
    else
        fail "compose: runs as 1000 in /workspace; state lands in HEADROOM_HOST_HOME/.headroom"; indent <<<"$out"
    fi
    [[ "$(pm inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$CNT" 2>/dev/null)" == unless-stopped ]] &&
        pass "compose: container restart policy unless-stopped" || fail "compose: container restart policy unless-stopped"
else
    fail "compose: up -d proxy serves /readyz on port $CPORT"; indent <"$WORK/cup.log"
fi
if compose down >"$WORK/cdown.log" 2>&1 && ! pm container exists "$CNT" 2>/dev/null; then
    pass "compose: down removes the container"
else
    fail "compose: down removes the container"; indent <"$WORK/cdown.log"
fi
pm network rm -f "${CPROJ}_default" >/dev/null 2>&1
timings+=("compose $((SECONDS - t))s")

finish
