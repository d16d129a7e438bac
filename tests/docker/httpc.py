#!/usr/bin/env python3
"""Tiny HTTP client for tests/docker/e2e.sh (the image has no curl, the host may not either).

  httpc.py wait URL SECONDS              poll until URL answers 200; exit 0, else 1
  httpc.py get URL                       print "<status>" then the body; exit 0 on any answer
  httpc.py post URL JSON [HEADER:VALUE]  same, POSTing JSON

Only loopback URLs are accepted: every test request stays on this machine.
"""

import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def loopback_only(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        sys.exit(f"httpc.py: refusing non-loopback URL {url}")


def fetch(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 5.0):
    loopback_only(url)
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def main() -> int:
    cmd, url = sys.argv[1], sys.argv[2]
    if cmd == "wait":
        deadline = time.monotonic() + float(sys.argv[3])
        last = ""
        while time.monotonic() < deadline:
            try:
                status, _ = fetch(url, timeout=1.0)
                if status == 200:
                    return 0
                last = f"HTTP {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        print(f"not ready after {sys.argv[3]} s: {last}", file=sys.stderr)
        return 1
    if cmd == "get":
        status, body = fetch(url)
    elif cmd == "post":
        headers = {"content-type": "application/json"}
        for h in sys.argv[4:]:
            k, _, v = h.partition(":")
            headers[k.strip()] = v.strip()
        status, body = fetch(url, sys.argv[3].encode(), headers)
    else:
        sys.exit(f"httpc.py: unknown command {cmd}")
    print(status)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
