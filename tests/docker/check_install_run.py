#!/usr/bin/env python3
"""Checks for tests/docker/e2e.sh part 4: what `headroom install apply --preset persistent-docker`
asked Docker to run (argv logged by podman-as-docker.sh) fits docker/Dockerfile's image, and the
installed container serves /health with its deployment and relays to the forwarded upstream.

usage: check_install_run.py ARGV_LOG PORT IMAGE PROFILE HEALTH_OUT MSG_OUT UPSTREAM_LOG
Prints `ok - …` / `not ok - …` lines.
"""

import json
import os
import sys


def check(ok, what):
    print(("ok - " if ok else "not ok - ") + "install: " + what)


def opt_values(argv, *names):
    return [argv[i + 1] for i, x in enumerate(argv[:-1]) if x in names]


def main():
    log, port, image, prof, health, msg, upstream = sys.argv[1:8]
    calls = [json.loads(line) for line in open(log)] if os.path.exists(log) else []
    runs = [a for a in calls if a[:1] == ["run"]]
    check(len(runs) == 1, f"apply ran one `docker run` ({len(runs)})")
    if runs:
        a = runs[0]
        pubs = opt_values(a, "-p", "--publish")
        check(pubs == [f"127.0.0.1:{port}:{port}"], f"publishes on 127.0.0.1 only ({pubs})")
        check(opt_values(a, "--restart") == ["unless-stopped"], "--restart unless-stopped")
        check(a[-1] == image, f"the image is the last argument, so the image's ENTRYPOINT runs ({a[-1]})")
        envs = dict(v.split("=", 1) for v in opt_values(a, "-e", "--env") if "=" in v)
        check(envs.get("HEADROOM_HOST") == "0.0.0.0" and envs.get("HEADROOM_PORT") == port,
              f"listener env HEADROOM_HOST=0.0.0.0 HEADROOM_PORT={port} "
              f"({envs.get('HEADROOM_HOST')}, {envs.get('HEADROOM_PORT')})")
        state = envs.get("HEADROOM_WORKSPACE_DIR")
        check(bool(state), f"sets HEADROOM_WORKSPACE_DIR ({state})")
        vols = opt_values(a, "-v", "--volume")
        check(any(v.split(":")[1:2] == [state] for v in vols),
              f"mounts a state volume at HEADROOM_WORKSPACE_DIR ({vols})")
        users = opt_values(a, "-u", "--user")
        check(not any(u.split(":")[0] in ("0", "root") for u in users), f"does not force root ({users})")
        check("--privileged" not in a and "--network=host" not in a and opt_values(a, "--network") in ([], ["bridge"]),
              "no --privileged, no host network")

    lines = open(health).read().split("\n", 1)
    try:
        dep = json.loads(lines[1]).get("deployment")
    except (ValueError, IndexError, AttributeError):
        dep = None
    want = {"profile": prof, "preset": "persistent-docker", "runtime": "docker"}
    check(lines[0] == "200" and isinstance(dep, dict) and all(dep.get(k) == v for k, v in want.items()),
          f"/health of the installed container shows its deployment ({lines[0]}, {dep})")

    m = open(msg).read().split("\n", 1)
    rec = [json.loads(line) for line in open(upstream)] if os.path.exists(upstream) else []
    check(m[0] == "200" and any(r["headers"].get("x-api-key") == "sk-ant-install-e2e" for r in rec),
          f"a request through the installed container reaches the forwarded upstream (HTTP {m[0]})")


if __name__ == "__main__":
    main()
