#!/usr/bin/env python3
"""A minimal org.kde.StatusNotifierWatcher for headless tests.

Desktop panels (KDE, GNOME's AppIndicator extension, waybar...) own this name on a real
desktop; on a bare Xvfb nobody does, so tray apps have nowhere to register. This stand-in owns
the name, accepts registrations, and appends one JSON line per event to the file given as
argv[1] ({"event": "registered"|"unregistered", "service": ..., "path": ..., "t": ...}).
Start it before the app: without a watcher the app (correctly) reports "no system tray".
"""

import asyncio
import json
import sys
import time

from dbus_next import BusType, Variant
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, dbus_property, method, signal
from dbus_next.constants import PropertyAccess

LOG = sys.argv[1] if len(sys.argv) > 1 else "/dev/stdout"


def record(**kw):
    kw["t"] = time.time()
    with open(LOG, "a") as f:
        f.write(json.dumps(kw) + "\n")


class Watcher(ServiceInterface):
    def __init__(self, bus):
        super().__init__("org.kde.StatusNotifierWatcher")
        self.bus = bus
        self.items = []

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: F821
        # The argument is a bus name or an object path (then the sender is the service).
        sender = ServiceInterface.last_msg.sender if hasattr(ServiceInterface, "last_msg") else None
        if service.startswith("/"):
            path, name = service, sender
        else:
            path, name = "/StatusNotifierItem", service
        entry = f"{name}{path}"
        if entry not in self.items:
            self.items.append(entry)
            record(event="registered", service=name, path=path)
            self.StatusNotifierItemRegistered(entry)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: F821
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: F821
        return self.items

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: F821
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: F821
        return 0

    @signal()
    def StatusNotifierItemRegistered(self, item) -> "s":  # noqa: F821
        return item

    @signal()
    def StatusNotifierItemUnregistered(self, item) -> "s":  # noqa: F821
        return item

    @signal()
    def StatusNotifierHostRegistered(self):
        return None


async def main():
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    watcher = Watcher(bus)

    # dbus-next does not pass the sender to methods; user handlers see every message first.
    def remember_sender(msg):
        if msg.interface == "org.kde.StatusNotifierWatcher":
            ServiceInterface.last_msg = msg
        return None

    bus.add_message_handler(remember_sender)

    def on_owner_changed(msg):
        if msg.member == "NameOwnerChanged" and msg.body[2] == "":
            gone = msg.body[0]
            for entry in list(watcher.items):
                if entry.startswith(gone + "/"):
                    watcher.items.remove(entry)
                    record(event="unregistered", service=gone, path=entry[len(gone):])
                    watcher.StatusNotifierItemUnregistered(entry)

    bus.add_message_handler(on_owner_changed)
    from dbus_next import Message
    await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                           interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                           body=["type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged'"]))
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name("org.kde.StatusNotifierWatcher")
    record(event="ready", service="", path="")
    _ = Variant  # keep import (used by type hints in some dbus-next versions)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main())
