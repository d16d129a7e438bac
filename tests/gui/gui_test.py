#!/usr/bin/env python3
"""End-to-end tests of the real Headroom desktop app on Linux (run through tests/gui/run.sh).

Expects (set up by run.sh): DISPLAY (Xvfb), a private session bus (dbus-run-session), the
StatusNotifierWatcher stand-in logging to $SNI_LOG, dunst, dbus-monitor logging Notify calls to
$NOTIFY_LOG, and $GUI_OUT for screenshots/metrics. argv[1] is the app binary.

Every test runs the app with a fake HOME (temp dir) on a free HEADROOM_PORT; nothing outside
the temp dirs is touched, and all traffic stays on loopback.
"""

import asyncio
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

APP = os.path.abspath(sys.argv[1])
OUT = os.environ.get("GUI_OUT", "test-output/gui")
SNI_LOG = os.environ["SNI_LOG"]
NOTIFY_LOG = os.environ["NOTIFY_LOG"]
ONLY = sys.argv[2:]
METRICS = {}
os.makedirs(OUT, exist_ok=True)


# ---------------------------------------------------------------- helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=10.0, step=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - polling
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def http_get(port, path, timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def health(port):
    try:
        code, body = http_get(port, "/health")
        return json.loads(body) if code == 200 else None
    except (OSError, ValueError):
        return None


class MockUpstream:
    """A loopback stand-in for the provider API: answers everything with 200 JSON."""

    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            def _ok(self):
                n = int(self.headers.get("content-length") or 0)
                if n:
                    self.rfile.read(n)
                body = b'{"object":"list","data":[]}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _ok

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def make_home(upstream=None, tools=("claude", "codex")):
    home = tempfile.mkdtemp(prefix="headroom-gui-")
    binp = os.path.join(home, "bin")
    os.makedirs(binp)
    for t in tools:
        p = os.path.join(binp, t)
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho fake\n")
        os.chmod(p, 0o755)
    os.makedirs(os.path.join(home, ".claude"))
    with open(os.path.join(home, ".claude/settings.json"), "w") as f:
        f.write('{\n  "model": "sonnet"\n}\n')
    os.makedirs(os.path.join(home, ".codex"))
    with open(os.path.join(home, ".codex/config.toml"), "w") as f:
        f.write('model = "o3"\n\n[features]\nweb_search = true\n')
    with open(os.path.join(home, ".bashrc"), "w") as f:
        f.write("alias ll='ls -l'\n")
    if upstream:
        os.makedirs(os.path.join(home, ".headroom/desktop"))
        with open(os.path.join(home, ".headroom/desktop/settings.json"), "w") as f:
            json.dump({"anthropic_url": upstream, "openai_url": upstream}, f)
    return home


def app_env(home, port):
    env = dict(os.environ)
    env.update({
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "HEADROOM_WORKSPACE_DIR": os.path.join(home, ".headroom"),
        "HEADROOM_PORT": str(port),
        "PATH": os.path.join(home, "bin") + ":/usr/local/bin:/usr/bin:/bin",
        "HEADROOM_DESKTOP_TICK_MS": "250",
        "HEADROOM_DESKTOP_FAILOPEN_SECS": "3",
        "NO_AT_BRIDGE": "1",
    })
    return env


def start_app(home, port, *args):
    log = open(os.path.join(OUT, f"app-{port}.log"), "w")
    return subprocess.Popen([APP, *args], env=app_env(home, port), stdout=log, stderr=subprocess.STDOUT)


def stop_process(p, timeout=5):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def descendants(pid):
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def exe_of(pid):
    """The process's executable path ("" once it is gone)."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def maps_gl_driver(pid):
    """Does the process map Mesa's DRI driver or LLVM? (The window's process must not.)"""
    mapped = open(f"/proc/{pid}/maps").read()
    return "libLLVM" in mapped or "_dri.so" in mapped


def pss_mib(pid):
    """Proportional set size of the process and all its descendants, in MiB."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def memory_report(pid, path):
    """Per-process PSS and each process's largest mappings, for the test artefacts."""
    import collections
    lines, maps = [], []
    for p in descendants(pid):
        try:
            cmd = open(f"/proc/{p}/cmdline").read().replace("\0", " ")[:100]
            pss = sum(int(line.split()[1]) for line in open(f"/proc/{p}/smaps_rollup") if line.startswith("Pss:"))
            lines.append(f"{pss / 1024:8.1f} MiB  pid {p}  {cmd}")
        except OSError:
            continue
        if os.environ.get("GUI_DUMP_SMAPS"):
            shutil.copy(f"/proc/{p}/smaps", os.path.join(OUT, f"smaps-{path}-{p}"))
        agg, dirty, cur = collections.Counter(), collections.Counter(), None
        try:
            for line in open(f"/proc/{p}/smaps"):
                parts = line.split()
                if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                    cur = parts[5] if len(parts) > 5 else "[anon]"
                elif line.startswith("Pss:"):
                    agg[cur] += int(parts[1])
                elif line.startswith("Private_Dirty:"):
                    dirty[cur] += int(parts[1])
        except OSError:
            pass
        maps.append(f"mappings of pid {p} ({cmd.split(' ')[0].rsplit('/', 1)[-1]}): PSS (of it private dirty)")
        maps += [f"{v / 1024:8.1f} MiB ({dirty[k] / 1024:5.1f})  {k}" for k, v in agg.most_common(25)]
    with open(os.path.join(OUT, path), "w") as f:
        f.write("\n".join(lines + maps) + "\n")


def sni_events(since):
    try:
        with open(SNI_LOG) as f:
            return [e for e in map(json.loads, f) if e["t"] >= since]
    except FileNotFoundError:
        return []


def notifications_text():
    try:
        with open(NOTIFY_LOG, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def screenshot_root(name):
    subprocess.run(["import", "-window", "root", os.path.join(OUT, name)], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def window_colours(wid, path=None):
    """How many distinct colours one capture of window `wid` holds (0 if it cannot be
    captured); with `path`, the first capture is saved there."""
    png = subprocess.run(["import", "-window", str(wid), "png:-"], capture_output=True).stdout
    if not png:
        return 0
    if path and not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(png)
    out = subprocess.run(["convert", "png:-", "-format", "%k", "info:"], input=png, capture_output=True).stdout
    try:
        return int(out.decode().strip() or 0)
    except ValueError:
        return 0


def find_windows(name="^Headroom$"):
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], capture_output=True, text=True).stdout
    return [int(w) for w in out.split()]


def close_window(wid):
    """Ask the window to close like a window manager's close button (WM_DELETE_WINDOW)."""
    import ctypes
    import ctypes.util
    x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    d = x.XOpenDisplay(None)
    ev = XEvent()
    ev.xclient.type = 33  # ClientMessage
    ev.xclient.window = wid
    ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
    ev.xclient.format = 32
    ev.xclient.data[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
    x.XSendEvent(d, wid, 0, 0, ctypes.byref(ev))
    x.XFlush(d)
    x.XCloseDisplay(d)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def seed_claude_choice(home, port):
    os.makedirs(os.path.join(home, ".headroom/desktop"), exist_ok=True)
    os.makedirs(os.path.join(home, ".headroom/wiring"), exist_ok=True)
    # The install engine's per-tool wiring state: Claude chosen, not written yet.
    with open(os.path.join(home, ".headroom/wiring/desktop.json"), "w") as f:
        json.dump({"schema_version": 1, "desired": {"claude": "provider"}, "active": False, "port": port}, f)
    with open(os.path.join(home, ".headroom/desktop/settings.json"), "w") as f:
        json.dump({"wizard_done": True}, f)


# ---------------------------------------------------------------- D-Bus tray client

async def _dbus_call(dest, path, iface, member, sig="", body=()):
    from dbus_next import Message, MessageType
    from dbus_next.aio import MessageBus
    bus = await MessageBus().connect()
    try:
        reply = await bus.call(Message(destination=dest, path=path, interface=iface, member=member,
                                       signature=sig, body=list(body)))
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{member}: {reply.error_name} {reply.body}")
        return reply.body
    finally:
        bus.disconnect()


def dbus_call(*a, **kw):
    return asyncio.run(_dbus_call(*a, **kw))


class TrayItem:
    def __init__(self, service, path):
        self.service, self.path = service, path

    def prop(self, name):
        return dbus_call(self.service, self.path, "org.freedesktop.DBus.Properties", "Get", "ss",
                         ["org.kde.StatusNotifierItem", name])[0].value

    def menu(self):
        """[(id, label, enabled, toggle-state)] of the top-level menu."""
        menu_path = self.prop("Menu")
        body = dbus_call(self.service, menu_path, "com.canonical.dbusmenu", "GetLayout", "iias", [0, -1, []])
        items = []
        for child in body[1][2]:
            cid, props, _ = child.value
            label = props.get("label").value if "label" in props else ""
            if props.get("type") and props["type"].value == "separator":
                continue
            enabled = props["enabled"].value if "enabled" in props else True
            toggle = props["toggle-state"].value if "toggle-state" in props else None
            items.append((cid, label.replace("_", ""), enabled, toggle))
        return items

    def click(self, label):
        from dbus_next import Variant
        for cid, lab, enabled, _ in self.menu():
            if lab == label:
                dbus_call(self.service, self.prop("Menu"), "com.canonical.dbusmenu", "Event", "isvu",
                          [cid, "clicked", Variant("s", ""), int(time.time())])
                return
        raise AssertionError(f"no menu item {label!r} in {self.menu()}")


def wait_tray(since, timeout=10):
    ev = wait_until(lambda: [e for e in sni_events(since) if e["event"] == "registered"], timeout,
                    what="tray registration")
    return TrayItem(ev[-1]["service"], ev[-1]["path"]), ev[-1]["t"]


# ---------------------------------------------------------------- WebDriver (plain HTTP, keep-alive)

class WebDriver:
    def __init__(self, port, app, env):
        self.proc = subprocess.Popen(["WebKitWebDriver", f"--port={port}"], env=env,
                                     stdout=open(os.path.join(OUT, "webdriver.log"), "a"), stderr=subprocess.STDOUT)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        wait_until(lambda: self._status_ok(port), 10, what="WebKitWebDriver")
        caps = {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {"binary": app, "args": []}}}}
        self.sid = self.req("POST", "/session", caps)["sessionId"]

    @staticmethod
    def _status_ok(port):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            c.request("GET", "/status")
            return c.getresponse().status == 200
        finally:
            c.close()

    def req(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        self.conn.request(method, path, data, headers)
        r = self.conn.getresponse()
        payload = json.loads(r.read() or b"{}")
        if r.status >= 400:
            raise AssertionError(f"WebDriver {method} {path}: {payload}")
        return payload.get("value")

    def s(self, method, path, body=None):
        return self.req(method, f"/session/{self.sid}{path}", body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(el.values()))

    def click(self, css):
        # Lists re-render after each change; retry when the node was replaced under us.
        for attempt in range(20):
            try:
                self.s("POST", f"/element/{self.find(css)}/click", {})
                return
            except AssertionError as e:
                if "stale element" not in str(e) or attempt == 19:
                    raise
                time.sleep(0.05)

    def text(self, css):
        return self.s("GET", f"/element/{self.find(css)}/text")

    def wait_js(self, script, timeout=10, what=None):
        return wait_until(lambda: self.js(script), timeout, what=what or script)

    def screenshot(self, name):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(png)

    def app_pid(self):
        kids = [p for p in descendants(self.proc.pid) if p != self.proc.pid]
        for p in kids:
            try:
                if os.readlink(f"/proc/{p}/exe") == APP:
                    return p
            except OSError:
                pass
        return None

    def quit(self):
        pid = self.app_pid()
        try:
            self.req("DELETE", f"/session/{self.sid}")
        except Exception:  # noqa: BLE001 - best effort teardown
            pass
        self.conn.close()
        stop_process(self.proc)
        # The app keeps running in the tray after its window closes: end it by pid.
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                wait_until(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", 5,
                           what="app exit")
            except (ProcessLookupError, AssertionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------- tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def tray_menu_drives_the_proxy_and_quit_exits_0():
    home, port = make_home(), free_port()
    seed_claude_choice(home, port)
    settings = os.path.join(home, ".claude/settings.json")
    original = open(settings).read()
    t0 = time.time()
    app = start_app(home, port, "--minimized")
    try:
        tray, t_reg = wait_tray(t0)
        wait_until(lambda: health(port), 10, what="/health")
        METRICS["launch_to_tray_ready_s"] = round(t_reg - t0, 3)
        METRICS["launch_to_healthy_s"] = round(time.time() - t0, 3)
        h = health(port)
        assert h["service"] == "headroom-proxy", h
        dep = h["deployment"]
        assert dep["preset"] == "desktop" and dep["supervisor"] == "none" and dep["runtime"] == "native", dep
        labels = [m[1] for m in tray.menu()]
        for want in ["Stop proxy", "Restart proxy", "Pause routing", "Open Headroom", "Start at login", "Quit"]:
            assert want in labels, (want, labels)
        assert labels[0].startswith("Headroom:"), labels
        assert tray.prop("Title") == "Headroom", tray.prop("Title")
        status_line = wait_until(lambda: next(lab for lab in (m[1] for m in tray.menu()) if "running" in lab), 5,
                                 what="status line says running")
        assert "tokens saved today" in status_line, status_line
        # Stop: /health goes away; the menu flips Start/Stop enabled state.
        time.sleep(1.0)  # idle settle before measuring
        METRICS["tray_only_pss_mib"] = round(pss_mib(app.pid), 1)
        memory_report(app.pid, "memory-tray-only.txt")
        # With a tray, the app becomes its WebKit-free tray binary (same pid): WebKit is mapped
        # only while a window is open, in the window's own processes.
        assert exe_of(app.pid).endswith("/headroom-tray"), exe_of(app.pid)
        mapped = open(f"/proc/{app.pid}/maps").read()
        assert "libwebkit2gtk" not in mapped and "libjavascriptcoregtk" not in mapped, "the tray maps WebKit"
        t = time.time()
        tray.click("Stop proxy")
        wait_until(lambda: health(port) is None, 5, step=0.01, what="proxy stopped")
        METRICS["tray_stop_to_health_down_ms"] = round((time.time() - t) * 1000)
        wait_until(lambda: dict((m[1], m[2]) for m in tray.menu()).get("Start proxy"), 3, what="the toggle says Start")
        assert not dict((m[1], m[2]) for m in tray.menu())["Restart proxy"], "Restart is disabled while stopped"
        t = time.time()
        tray.click("Start proxy")
        wait_until(lambda: health(port), 5, step=0.01, what="proxy started")
        METRICS["tray_start_to_health_up_ms"] = round((time.time() - t) * 1000)
        # Pause routing unwires the tools (the proxy keeps running); Resume rewires them.
        wait_until(lambda: f"127.0.0.1:{port}" in open(settings).read(), 5, what="claude wired")
        t = time.time()
        tray.click("Pause routing")
        wait_until(lambda: open(settings).read() == original, 5, step=0.01, what="paused: unwired")
        METRICS["tray_pause_to_unwired_ms"] = round((time.time() - t) * 1000)
        assert health(port), "pausing routing keeps the proxy running"
        wait_until(lambda: "Resume routing" in [m[1] for m in tray.menu()], 3, what="menu says Resume")
        tray.click("Resume routing")
        wait_until(lambda: f"127.0.0.1:{port}" in open(settings).read(), 5, what="resumed: rewired")
        # Start at login: XDG autostart entry in the fake HOME, reflected in /health.
        desktop_file = os.path.join(home, ".config/autostart/Headroom.desktop")
        tray.click("Start at login")
        wait_until(lambda: os.path.exists(desktop_file), 5, what="autostart entry")
        with open(desktop_file) as f:
            entry = f.read()
        # It starts the app binary, which checks for a tray (never the tray binary directly).
        assert "--autostart" in entry and APP in entry and "headroom-tray" not in entry, entry
        wait_until(lambda: (health(port) or {}).get("deployment", {}).get("supervisor") == "autostart", 5,
                   what="supervisor=autostart")
        wait_until(lambda: dict((m[1], m[3]) for m in tray.menu())["Start at login"] == 1, 3, what="check item on")
        tray.click("Start at login")
        wait_until(lambda: not os.path.exists(desktop_file), 5, what="autostart entry removed")
        # Open the window from the tray, then close it: the webview is destroyed, the app stays
        # in the tray and its memory goes back down.
        t_click = time.time()
        tray.click("Open Headroom")
        wid = wait_until(find_windows, 10, step=0.01, what="window opened from the tray")[0]
        t_appear = time.time()
        METRICS["open_click_to_window_ms"] = round((t_appear - t_click) * 1000)
        # First paint: the first capture of the window that shows the page (many colours: text,
        # cards) rather than an empty frame (one or two). The first capture is kept.
        first = os.path.join(OUT, "tray-window-first-frame.png")
        painted = wait_until(lambda: window_colours(wid, first) > 16 and time.time(), 10, step=0.0,
                             what="the window shows the page")
        METRICS["window_to_first_paint_ms"] = round((painted - t_appear) * 1000)
        time.sleep(3.0)
        # The app as shipped, with a tray: tray process, window process and WebKit's two.
        METRICS["window_open_pss_mib"] = round(pss_mib(app.pid), 1)
        memory_report(app.pid, "memory-window-open.txt")
        # The window runs in the window-only binary, and its own process maps no GL driver
        # (src-tauri/src/window_gl.rs): only the web process draws.
        windows = [p for p in descendants(app.pid) if exe_of(p).endswith("/headroom-window")]
        assert len(windows) == 1, [exe_of(p) for p in descendants(app.pid)]
        assert not maps_gl_driver(windows[0]), "the window process maps a GL driver"
        # Docks match it to the launcher entry headroom.desktop by its class.
        wm_class = subprocess.run(["xprop", "-id", str(wid), "WM_CLASS"], capture_output=True, text=True).stdout
        assert '"headroom", "Headroom"' in wm_class, wm_class
        screenshot_root("tray-window-open.png")
        close_window(wid)
        wait_until(lambda: not find_windows(), 5, what="window closed")
        assert app.poll() is None, "closing the window must not quit the tray app"
        assert health(port), "the proxy keeps running with the window closed"
        # The window lived in a child process: once it exits, WebKit's memory is all gone.
        wait_until(lambda: len(descendants(app.pid)) == 1, 5, what="window process and WebKit exited")
        time.sleep(2.0)
        METRICS["tray_only_after_close_pss_mib"] = round(pss_mib(app.pid), 1)
        METRICS["processes_after_close"] = len(descendants(app.pid))
        memory_report(app.pid, "memory-after-close.txt")
        assert METRICS["tray_only_after_close_pss_mib"] <= METRICS["tray_only_pss_mib"] + 8, METRICS
        screenshot_root("tray-running.png")
        tray.click("Quit")
        code = app.wait(10)
        assert code == 0, f"exit code {code}"
        assert health(port) is None
        assert open(settings).read() == original, "Quit unwired the tools of the in-app proxy"
    finally:
        stop_process(app)
        shutil.rmtree(home, ignore_errors=True)


class FakeHeadroom:
    """A loopback server claiming to be Headroom whose health the test flips (a hung proxy)."""

    def __init__(self, port):
        self.healthy = True
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = outer.healthy
                body = json.dumps({"service": "headroom-proxy", "status": "healthy" if ok else "unhealthy",
                                   "ready": ok, "version": "fake"}).encode()
                self.send_response(200 if ok or self.path != "/readyz" else 503)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@test
def attaches_to_a_running_headroom_then_takes_over_when_it_dies():
    """A real external `headroom proxy` serves the port: the app attaches (never a second proxy
    on one port). When it dies, the app notifies and hosts the proxy itself."""
    home, port = make_home(), free_port()
    # The app binary answers to the name `headroom` (the bundled CLI): run `headroom proxy`.
    cli = os.path.join(home, "bin", "headroom")
    os.symlink(APP, cli)
    ext = subprocess.Popen([cli, "proxy", "--port", str(port)], env=app_env(home, port),
                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, "external-proxy.log"), "w"))
    app = None
    try:
        wait_until(lambda: health(port), 10, what="external proxy (app binary run as `headroom proxy`)")
        assert "deployment" not in health(port)
        seed_claude_choice(home, port)
        settings = os.path.join(home, ".claude/settings.json")
        original = open(settings).read()
        t0 = time.time()
        app = start_app(home, port, "--minimized")
        tray, _ = wait_tray(t0)
        wait_until(lambda: f"127.0.0.1:{port}" in open(settings).read(), 5, what="claude wired")
        assert "deployment" not in health(port), "attached: the external proxy still serves the port"
        assert ext.poll() is None
        n0 = len(notifications_text())
        ext.kill()
        ext.wait()
        wait_until(lambda: "Headroom proxy stopped" in notifications_text()[n0:], 5, what="stopped notification")
        wait_until(lambda: (health(port) or {}).get("deployment", {}).get("preset") == "desktop", 10,
                   what="app took over the port")
        wait_until(lambda: "Headroom proxy recovered" in notifications_text()[n0:], 5, what="recovered notification")
        assert f"127.0.0.1:{port}" in open(settings).read(), "still wired through the takeover"
        tray.click("Quit")
        assert app.wait(10) == 0
        assert open(settings).read() == original, "quitting unwired the in-app proxy's tools"
    finally:
        stop_process(ext)
        if app:
            stop_process(app)
        shutil.rmtree(home, ignore_errors=True)


@test
def unhealthy_proxy_fails_open_then_rewires_on_recovery():
    """The Headroom on the port hangs (answers unhealthy): after the grace period the app unwires
    the tools, notifies and shows the error state; when it is healthy again it rewires."""
    home, port = make_home(), free_port()
    fake = FakeHeadroom(port)
    app = None
    try:
        seed_claude_choice(home, port)
        settings = os.path.join(home, ".claude/settings.json")
        original = open(settings).read()
        t0 = time.time()
        app = start_app(home, port, "--minimized")
        tray, _ = wait_tray(t0)
        wait_until(lambda: f"127.0.0.1:{port}" in open(settings).read(), 5, what="claude wired")
        n0 = len(notifications_text())
        fake.healthy = False
        t_fail = time.time()
        wait_until(lambda: "Headroom proxy stopped" in notifications_text()[n0:], 5, what="stopped notification")
        assert f"127.0.0.1:{port}" in open(settings).read(), "a blip shorter than the grace keeps wiring"
        wait_until(lambda: open(settings).read() == original, 10, what="fail-open unwiring")
        METRICS["fail_open_unwire_s"] = round(time.time() - t_fail, 2)
        wait_until(lambda: "Headroom routing paused" in notifications_text()[n0:], 5, what="auto-pause notification")
        wait_until(lambda: "routing auto-paused" in tray.menu()[0][1], 3, what="tray shows the error state")
        time.sleep(0.5)
        screenshot_root("notification-auto-paused.png")
        fake.healthy = True
        wait_until(lambda: f"127.0.0.1:{port}" in open(settings).read(), 5, what="rewired")
        wait_until(lambda: "Headroom proxy recovered" in notifications_text()[n0:], 5, what="recovered notification")
        tray.click("Quit")
        assert app.wait(10) == 0
        assert f"127.0.0.1:{port}" in open(settings).read(), "an attached proxy keeps serving: wiring stays"
    finally:
        fake.close()
        if app:
            stop_process(app)
        shutil.rmtree(home, ignore_errors=True)


@test
def ui_wizard_tools_diff_and_deployment_in_real_window():
    upstream = MockUpstream()
    home, port = make_home(upstream.url), free_port()
    wd_port = free_port()
    env = app_env(home, port)
    env["TAURI_WEBVIEW_AUTOMATION"] = "true"
    # The install engine's test hooks: record service-manager commands instead of running
    # them, and keep system paths inside the temp dir.
    env["HEADROOM_TEST_RUNNER_LOG"] = os.path.join(home, "runner.log")
    env["HEADROOM_TEST_ROOT"] = os.path.join(home, "root")
    env["HEADROOM_TEST_SYSTEMD"] = "1"
    env["HEADROOM_TEST_OS"] = "linux"
    t0 = time.time()
    wd = WebDriver(wd_port, APP, env)
    try:
        METRICS["webdriver_session_s"] = round(time.time() - t0, 2)
        wd.wait_js("return document.body.dataset.ready === '1'", 15, "UI booted")
        # First launch: the wizard is open and nothing was changed on the system.
        assert wd.js("return !document.querySelector('#wizard').hidden"), "wizard not shown on first launch"
        claude_before = open(os.path.join(home, ".claude/settings.json")).read()
        codex_before = open(os.path.join(home, ".codex/config.toml")).read()
        assert health(port)["deployment"]["preset"] == "desktop", "proxy started at once"
        wd.screenshot("wizard-welcome.png")
        wd.click("#wz-next")  # -> detect
        wd.wait_js("return document.querySelector('#wizard').dataset.step === 'detect' && "
                   "document.querySelectorAll('#wz-detect tbody tr').length === 7")
        found = wd.js("return Array.from(document.querySelectorAll('#wz-detect tbody tr')).map(r => [r.dataset.tool, r.children[1].textContent])")
        found = dict(found)
        assert found["claude"] == "Found" and found["codex"] == "Found" and found["aider"] == "Not found", found
        wd.screenshot("wizard-detect.png")
        wd.click("#wz-next")  # -> scope
        wd.wait_js("return document.querySelector('#wizard').dataset.step === 'scope'")
        choices = dict(wd.js("return Array.from(document.querySelectorAll('#wz-scope select')).map(s => [s.dataset.wzTool, s.value])"))
        assert choices["claude"] == "provider" and choices["codex"] == "provider" and choices["aider"] == "", choices
        # A scope the engine cannot route is offered disabled, with its reason. (System scope is
        # enabled here only because HEADROOM_TEST_ROOT points system files into the fake HOME;
        # on the real root the app leaves it to `sudo headroom install`, unit-tested.)
        option = "select[data-wz-tool=aider] option[value=provider]"
        assert wd.js(f"return document.querySelector('{option}').disabled"), "aider provider scope must be disabled"
        assert "no config file" in wd.js(f"return document.querySelector('{option}').textContent")
        wd.click("#wz-next")  # -> runtime
        wd.wait_js("return document.querySelector('#wizard').dataset.step === 'runtime'")
        wd.click("#wz-next")  # -> review
        wd.wait_js("return document.querySelector('#wizard').dataset.step === 'review' && "
                   "document.querySelectorAll('#wz-review .change').length === 2", what="review diffs")
        review = wd.js("return document.querySelector('#wz-review').textContent")
        assert f'"ANTHROPIC_BASE_URL": "http://127.0.0.1:{port}"' in review, review
        assert f'base_url = "http://127.0.0.1:{port}/v1"' in review, review
        # Review wrote nothing.
        assert open(os.path.join(home, ".claude/settings.json")).read() == claude_before
        wd.screenshot("wizard-review.png")
        wd.click("#wz-next")  # Apply -> verify
        wd.wait_js("return document.querySelectorAll('#wz-verify li[data-check]').length === 3", 20, "verify results")
        checks = wd.js("return Array.from(document.querySelectorAll('#wz-verify li')).map(l => [l.dataset.check, l.className, l.textContent])")
        for name, cls, text in checks:
            assert cls == "ok", (name, text)
        wd.screenshot("wizard-verify.png")
        wd.click("#wz-next")  # -> done
        wd.wait_js("return document.querySelector('#wizard').dataset.step === 'done'")
        done = wd.js("return document.querySelector('#wz-done-text').textContent")
        assert "Claude Code" in done and "Codex" in done, done
        wd.screenshot("wizard-done.png")
        wd.click("#wz-next")  # finish
        wd.wait_js("return document.querySelector('#wizard').hidden")
        claude = json.load(open(os.path.join(home, ".claude/settings.json")))
        assert claude["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}" and claude["model"] == "sonnet", claude
        codex = open(os.path.join(home, ".codex/config.toml")).read()
        assert 'model_provider = "headroom"' in codex and f'base_url = "http://127.0.0.1:{port}/v1"' in codex, codex
        assert all(line in codex.splitlines() for line in codex_before.splitlines()), (codex_before, codex)
        with open(os.path.join(home, ".headroom/desktop/settings.json")) as f:
            assert json.load(f)["wizard_done"] is True

        # Overview renders the /health deployment block (scope now "provider").
        wd.click("#tab-overview")
        wd.wait_js("const r = document.querySelector('#ov-deployment tr[data-key=scope] td'); return r && r.textContent === 'provider'",
                   10, "deployment scope=provider rendered")
        dep = dict(wd.js("return Array.from(document.querySelectorAll('#ov-deployment tr')).map(r => [r.dataset.key, r.children[1].textContent])"))
        assert dep["preset"] == "desktop" and dep["runtime"] == "native" and dep["supervisor"] == "none", dep
        assert wd.text("#ov-port") == str(port)
        assert wd.text("#ov-state") == "running"
        wd.screenshot("overview.png")

        # Tools: a scope toggle shows the diff, applies only after confirmation, undo is one click.
        wd.click("#tab-tools")
        wd.wait_js("return document.querySelectorAll('#tools-list .tool-card').length === 7")
        claude_row = wd.text(".tool-card[data-tool=claude]")
        assert f"Sends its API calls to http://127.0.0.1:{port}" in claude_row, claude_row
        assert wd.js("return document.querySelector('input[data-tool=claude][data-scope=provider]').checked")
        reason = wd.js("return document.querySelector('input[data-tool=aider][data-scope=provider]').disabled && "
                       "document.querySelector('.tool-card[data-tool=aider]').textContent.includes('no config file')")
        assert reason, "unsupported scope must be disabled with its reason"
        wd.screenshot("tools.png")
        bashrc = os.path.join(home, ".bashrc")
        bashrc_before = open(bashrc).read()
        t = time.time()
        wd.click("input[data-tool=aider][data-scope=user]")
        wd.wait_js("return !document.querySelector('#diff-modal').hidden", 5, "diff modal")
        METRICS["ui_toggle_to_diff_ms"] = round((time.time() - t) * 1000)
        summary = wd.text("#diff-list")
        assert "~/.bashrc" in summary and "new terminals send their API calls to Headroom" in summary, summary
        diff = wd.js("return document.querySelector('#diff-list').textContent")
        assert f'+export OPENAI_API_BASE=http://127.0.0.1:{port}/v1' in diff, diff
        assert wd.js("const r = document.querySelector('#diff-confirm').getBoundingClientRect(); "
                     "return r.bottom <= window.innerHeight && r.top >= 0"), "Apply is visible without scrolling"
        assert open(bashrc).read() == bashrc_before, "nothing written before confirmation"
        wd.screenshot("tools-diff.png")
        wd.click("#diff-confirm")
        wait_until(lambda: "OPENAI_API_BASE" in open(bashrc).read(), 5, what=".bashrc wired")
        wd.wait_js("return document.querySelector('input[data-tool=aider][data-scope=user]').checked")
        wd.click("#undo-btn")
        wait_until(lambda: open(bashrc).read() == bashrc_before, 5, what="undo restored .bashrc")
        wd.wait_js("return !document.querySelector('input[data-tool=aider][data-scope=user]').checked")
        # Cancel in the diff dialog changes nothing.
        wd.click("input[data-tool=aider][data-scope=user]")
        wd.wait_js("return !document.querySelector('#diff-modal').hidden")
        wd.click("#diff-cancel")
        time.sleep(0.3)
        assert open(bashrc).read() == bashrc_before

        # Re-run the wizard and cancel at the review step: nothing changes.
        snapshot = {p: sha(os.path.join(home, p)) for p in (".claude/settings.json", ".codex/config.toml", ".bashrc")}
        wd.click("#tab-settings")
        wd.wait_js("return document.querySelector('#set-port').value !== ''")
        assert wd.js("return document.querySelector('#set-port').disabled"), "HEADROOM_PORT fixes the port"
        assert str(port) in wd.text("#set-port-note"), wd.text("#set-port-note")
        time.sleep(0.3)
        screenshot_root("settings.png")
        wd.click("#wizard-rerun")
        for step in ("detect", "scope", "runtime"):
            wd.click("#wz-next")
            wd.wait_js(f"return document.querySelector('#wizard').dataset.step === '{step}'")
        wd.js("const s = document.querySelector('select[data-wz-tool=claude]'); s.value = ''; return true")
        wd.click("#wz-next")
        wd.wait_js("return document.querySelector('#wizard').dataset.step === 'review' && document.querySelectorAll('#wz-review .change').length === 1")
        wd.click("#wz-cancel")
        wd.wait_js("return document.querySelector('#wizard').hidden")
        after = {p: sha(os.path.join(home, p)) for p in snapshot}
        assert after == snapshot, "cancelling the wizard changed files"

        # Stop/Start from the Runtime page is reflected in /health.
        wd.click("#tab-runtime")
        wd.wait_js("return document.querySelector('#rt-deployments tbody').textContent.includes('None installed')", 5,
                   "installed deployments listed")
        t = time.time()
        wd.click("#rt-stop")
        wait_until(lambda: health(port) is None, 5, step=0.01, what="stopped from UI")
        METRICS["ui_stop_to_health_down_ms"] = round((time.time() - t) * 1000)
        wd.wait_js("return document.querySelector('#ov-state').textContent === 'stopped'", 3)
        wd.click("#rt-start")
        wait_until(lambda: health(port), 5, step=0.01, what="started from UI")
        time.sleep(1.5)
        pid = wd.app_pid()
        if pid:
            # Automation keeps the window in the app process and adds WebDriver's own state.
            METRICS["window_open_pss_mib_under_webdriver"] = round(pss_mib(pid), 1)
        wd.screenshot("runtime.png")

        # Install as a persistent service through the install engine: the plan is shown first;
        # after Apply the deployment is listed and owns the Claude/Codex wiring; Remove restores.
        wd.js("document.querySelector('#rt-preset').value = 'persistent-service'; return true")
        wd.click("#rt-install")
        wd.wait_js("return !document.querySelector('#diff-modal').hidden", 10, "install plan shown")
        plan = wd.js("return document.querySelector('#diff-list').textContent")
        assert "takes over routing Claude Code, Codex" in plan and ".service" in plan, plan
        unit_dir = os.path.join(home, ".config/systemd/user")
        assert not os.path.exists(unit_dir), "nothing written before Apply"
        wd.screenshot("runtime-install-plan.png")
        wd.click("#diff-confirm")
        wd.wait_js("return document.querySelector('#rt-deployments tr[data-profile=default]') !== null", 20,
                   "installed deployment listed")
        units = os.listdir(unit_dir)
        assert any(u.endswith(".service") for u in units), units
        claude = json.load(open(os.path.join(home, ".claude/settings.json")))
        assert claude["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}", claude
        manifest = json.load(open(os.path.join(home, ".headroom/deploy/default/manifest.json")))
        assert manifest["preset"] == "persistent-service" and sorted(manifest["targets"]) == ["claude", "codex"], manifest
        wd.screenshot("runtime-installed.png")
        wd.click("tr[data-profile=default] button[data-action=remove]")
        wd.s("POST", "/alert/accept", {})
        wd.wait_js("return document.querySelector('#rt-deployments tbody').textContent.includes('None installed')", 20,
                   "deployment removed")
        assert not any(u.endswith(".service") for u in os.listdir(unit_dir)) if os.path.exists(unit_dir) else True
        assert open(os.path.join(home, ".claude/settings.json")).read() == claude_before, "remove restored Claude's settings"
        wait_until(lambda: (health(port) or {}).get("deployment", {}).get("preset") == "desktop", 10,
                   what="the app hosts the proxy again")
    finally:
        wd.quit()
        upstream.close()
        shutil.rmtree(home, ignore_errors=True)


@test
def second_launch_does_not_start_a_second_app():
    home, port = make_home(), free_port()
    t0 = time.time()
    first = start_app(home, port, "--minimized")
    try:
        tray, _ = wait_tray(t0)
        wait_until(lambda: health(port), 10, what="/health")
        second = start_app(home, port, "--minimized")
        code = second.wait(10)
        assert code == 0, f"second instance exit code {code}"
        assert first.poll() is None, "the first instance keeps running"
        assert len([e for e in sni_events(t0) if e["event"] == "registered"]) == 1, "one tray icon only"
        tray.click("Quit")
        assert first.wait(10) == 0
    finally:
        stop_process(first)
        shutil.rmtree(home, ignore_errors=True)


@test
def no_tray_opens_the_window_and_says_so():
    """Without a StatusNotifierWatcher, the app must not run invisibly — nor must the tray
    binary started on its own: it hands over to the app binary, which opens the window."""
    tray_bin = os.path.join(os.path.dirname(APP), "headroom-tray")
    for binary in (APP, tray_bin):
        home, port = make_home(), free_port()
        env = app_env(home, port)
        # A private bus without the watcher: run the app under its own dbus-run-session.
        log = open(os.path.join(OUT, f"app-notray-{os.path.basename(binary)}.log"), "w")
        app = subprocess.Popen(["dbus-run-session", "--", binary, "--minimized"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: health(port), 10, what="/health")
            out = wait_until(lambda: subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Headroom$"], capture_output=True, text=True).stdout.split(),
                             10, what=f"window opened by {binary} although --minimized")
            assert out
            time.sleep(1.0)
            if binary == APP:
                screenshot_root("no-tray-window.png")
                # Without a tray the window is the app: one process with the proxy, plus WebKit's.
                time.sleep(2.0)
                main = next(p for p in descendants(app.pid) if exe_of(p).endswith("/headroom-desktop"))
                METRICS["window_open_no_tray_pss_mib"] = round(pss_mib(main), 1)
                memory_report(main, "memory-window-open-no-tray.txt")
                assert not maps_gl_driver(main), "the app's process maps a GL driver"
        finally:
            pids = descendants(app.pid)
            for p in reversed(pids):
                try:
                    os.kill(p, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                app.wait(10)
            except subprocess.TimeoutExpired:
                app.kill()
            wait_until(lambda: not subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Headroom$"], capture_output=True, text=True).stdout.split(),
                       10, what="window closed")
            shutil.rmtree(home, ignore_errors=True)


@test
def cli_shim_wraps_without_a_display():
    """The app binary run as `headroom` starts wrap's session proxy as the CLI, never the GUI:
    `headroom wrap -- <cmd>` works with no display and leaves no process behind."""
    home, port = make_home(), free_port()
    shim = os.path.join(home, "bin", "headroom")
    os.symlink(APP, shim)
    env = app_env(home, port)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        env.pop(var, None)
    probe = ("import os, urllib.request; "
             "print(urllib.request.urlopen(os.environ['ANTHROPIC_BASE_URL'] + '/health').read().decode())")
    try:
        t = time.time()
        out = subprocess.run([shim, "wrap", "--port", str(port), "--", "python3", "-c", probe],
                             env=env, capture_output=True, text=True, timeout=30)
        METRICS["shim_wrap_no_display_s"] = round(time.time() - t, 2)
        assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
        assert '"service":"headroom-proxy"' in out.stdout.replace(" ", ""), out.stdout
        wait_until(lambda: health(port) is None, 10, what="the session proxy exits with its last tool")

        def leftovers():
            found = []
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                    except OSError:
                        continue
                    if APP in cmd and f"--port {port}" in cmd:
                        found.append(cmd)
            return found
        wait_until(lambda: not leftovers(), 5, what="no process left behind")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def rounds_left_wired(kind, rounds, end):
    """Starts the app `rounds` times in the tray at a 100 ms supervisor tick with Claude wired,
    ends it each time with `end(app, i, t0)` (it must then exit 0), and counts the rounds that
    left Claude's settings pointing at Headroom."""
    left_wired = 0
    for i in range(rounds):
        home, port = make_home(), free_port()
        env = app_env(home, port)
        env["HEADROOM_DESKTOP_TICK_MS"] = "100"
        try:
            seed_claude_choice(home, port)
            settings = os.path.join(home, ".claude/settings.json")
            original = open(settings).read()
            t0 = time.time()
            log = open(os.path.join(OUT, f"app-{kind}-{i}.log"), "w")
            app = subprocess.Popen([APP, "--minimized"], env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_until(lambda: f"127.0.0.1:{port}" in open(settings).read(), 10, what="claude wired")
                end(app, i, t0)
                assert app.wait(10) == 0, f"{kind} exits 0"
            finally:
                if app.poll() is None:
                    app.kill()
                    app.wait()
            if open(settings).read() != original:
                left_wired += 1
        finally:
            shutil.rmtree(home, ignore_errors=True)
    METRICS[f"{kind}_rounds"] = rounds
    METRICS[f"{kind}_left_wired"] = left_wired
    return left_wired


@test
def sigterm_unwires_tools_every_time():
    """Logout, shutdown and `kill` send SIGTERM: the app must unwire its tools like Quit does.
    20 rounds at a 100 ms supervisor tick in CI; GUI_SIGTERM_ROUNDS=200 for the measurement."""
    def end(app, i, _t0):
        time.sleep(0.05 * (i % 4))
        app.send_signal(signal.SIGTERM)

    rounds = int(os.environ.get("GUI_SIGTERM_ROUNDS", "20"))
    left_wired = rounds_left_wired("sigterm", rounds, end)
    assert left_wired == 0, f"{left_wired} of {rounds} SIGTERMs left Claude wired to a dead port"


@test
def quit_unwires_tools_every_time():
    """Quit from the tray menu races the supervisor tick; neither may leave a tool wired.
    10 rounds at a 100 ms tick in CI; GUI_QUIT_ROUNDS=200 for the measurement."""
    def end(_app, i, t0):
        tray, _ = wait_tray(t0)
        time.sleep(0.03 * (i % 5))
        tray.click("Quit")

    rounds = int(os.environ.get("GUI_QUIT_ROUNDS", "10"))
    left_wired = rounds_left_wired("quit", rounds, end)
    assert left_wired == 0, f"{left_wired} of {rounds} Quits left Claude wired to a dead port"


def main():
    passed = failed = 0
    for fn in TESTS:
        if ONLY and fn.__name__ not in ONLY:
            continue
        t = time.time()
        try:
            fn()
            passed += 1
            print(f"PASS {fn.__name__} ({time.time() - t:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001 - report and continue
            failed += 1
            print(f"FAIL {fn.__name__} ({time.time() - t:.1f}s)", flush=True)
            traceback.print_exc()
    METRICS["binary_bytes"] = os.path.getsize(APP)
    with open(os.path.join(OUT, "metrics.json"), "w") as f:
        json.dump(METRICS, f, indent=2)
    print("metrics: " + json.dumps(METRICS), flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
