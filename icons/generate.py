#!/usr/bin/env python3
"""Generate Headroom's app and tray icons (stdlib only, reproducible).

The design: the "headroom" mark (a bar with an upward chevron above it: room above the line).
The app icon puts it in white on a blue rounded square. Tray icons are monochrome — the mark
alone, white with a dark outline so it reads on dark and light panels alike — and carry the
state as a large badge (a third of the icon) with a glyph, legible at 22 px: none while
running, amber with two bars when paused, grey with a square when stopped, red with "!" on
error.

Outputs (committed):
  icons/tray-{running,paused,stopped,error}.png   32x32 RGBA (tray, 1x)
  icons/tray-{...}@2x.png                          64x64 RGBA (tray, 2x)
  src-tauri/icons/icon.png                         512x512 RGBA (Tauri build + Linux)
  src-tauri/icons/{32x32,128x128,128x128@2x}.png   bundle sizes
  src-tauri/icons/icon.ico                         Windows (PNG-in-ICO, 16..256)
  src-tauri/icons/icon.icns                        macOS (PNG entries ic07..ic10)

Run: python3 icons/generate.py   (from the repo root)
"""

import os
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICONS = os.path.join(ROOT, "icons")
BUNDLE = os.path.join(ROOT, "src-tauri", "icons")

COLOURS = {
    "brand": (37, 99, 235),  # blue: the app icon
    "running": (22, 163, 74),  # green
    "paused": (217, 119, 6),  # amber
    "stopped": (107, 114, 128),  # grey
    "error": (220, 38, 38),  # red
}
SUPERSAMPLE = 4


def _inside_rounded_square(x, y, radius):
    # Unit coordinates in [0, 1]; margin 0.04.
    m = 0.04
    if x < m or y < m or x > 1 - m or y > 1 - m:
        return False
    cx = min(max(x, m + radius), 1 - m - radius)
    cy = min(max(y, m + radius), 1 - m - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _inside_mark(x, y):
    # Horizontal bar near the bottom.
    if 0.22 <= x <= 0.78 and 0.68 <= y <= 0.78:
        return True
    # Upward chevron: two thick strokes meeting at (0.5, 0.22).
    t = 0.085
    for sx in (-1, 1):
        # line from (0.5, 0.22) to (0.5 + sx*0.26, 0.50)
        x0, y0, x1, y1 = 0.5, 0.22, 0.5 + sx * 0.26, 0.50
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        u = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / length2))
        px, py = x0 + u * dx, y0 + u * dy
        if (x - px) ** 2 + (y - py) ** 2 <= t * t:
            return True
    return False


def _inside_badge(state, x, y):
    """The tray state badge (bottom-right): 'fg' glyph, 'bg' disc, 'ring' outline, or None."""
    if state == "running":
        return None
    cx, cy, r = 0.70, 0.70, 0.30
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    if d2 > (r + 0.05) ** 2:
        return None
    if d2 > r * r:
        return "ring"
    if state == "paused":
        inner = (0.58 <= x <= 0.65 or 0.75 <= x <= 0.82) and 0.57 <= y <= 0.83
    elif state == "stopped":
        inner = 0.59 <= x <= 0.81 and 0.59 <= y <= 0.81
    else:  # error
        inner = 0.665 <= x <= 0.735 and (0.54 <= y <= 0.75 or 0.79 <= y <= 0.86)
    return "fg" if inner else "bg"


def _near_mark(x, y, d):
    return any(_inside_mark(x + dx, y + dy) for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d), (d, d), (-d, -d), (d, -d), (-d, d)))


def render_tray(size, state):
    """Monochrome mark with an outline, plus the state badge."""
    badge_colour = {"paused": COLOURS["paused"], "stopped": (75, 85, 99), "error": COLOURS["error"]}
    outline = max(1.2 / size, 0.035)

    def colour_at(x, y):
        # The mark is scaled up to fill the icon (the tray has no square around it).
        mx, my = 0.5 + (x - 0.5) * 0.8, 0.5 + (y - 0.5) * 0.8 - 0.02
        badge = _inside_badge(state, x, y)
        if badge == "fg":
            return (255, 255, 255, 255)
        if badge == "bg":
            return (*badge_colour[state], 255)
        if badge == "ring":
            return (17, 24, 39, 255)
        if _inside_mark(mx, my):
            return (255, 255, 255, 255)
        if _near_mark(mx, my, outline):
            return (17, 24, 39, 235)
        return (0, 0, 0, 0)

    return _supersample(size, colour_at)


def _supersample(size, colour_at):
    """Render `colour_at(x, y)` (unit coordinates → RGBA) with SUPERSAMPLE² samples a pixel."""
    pixels = bytearray()
    n = SUPERSAMPLE
    for py in range(size):
        pixels.append(0)  # PNG filter byte
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    rgba = colour_at((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size)
                    for i in range(3):
                        acc[i] += rgba[i] * rgba[3]
                    acc[3] += rgba[3]
            alpha = acc[3] / (n * n * 255)
            rgb = [round(acc[i] / acc[3]) for i in range(3)] if acc[3] > 0 else [0, 0, 0]
            pixels.extend(bytes([*(min(255, c) for c in rgb), round(alpha * 255)]))
    return _png(size, size, bytes(pixels))


def render(size, colour):
    """The app icon: the white mark on a rounded square of `colour`."""
    radius = 0.2

    def colour_at(x, y):
        if _inside_rounded_square(x, y, radius):
            return (255, 255, 255, 255) if _inside_mark(x, y) else (*colour, 255)
        return (0, 0, 0, 0)

    return _supersample(size, colour_at)


def _png(width, height, raw):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _ico(pngs):
    """PNG-in-ICO (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = 6 + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, data in pngs:
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def _icns(pngs):
    kinds = {128: b"ic07", 256: b"ic08", 512: b"ic09"}
    body = b""
    for size, data in pngs:
        if size in kinds:
            body += kinds[size] + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    for state in ("running", "paused", "stopped", "error"):
        write(os.path.join(ICONS, f"tray-{state}.png"), render_tray(32, state))
        write(os.path.join(ICONS, f"tray-{state}@2x.png"), render_tray(64, state))
    brand = {s: render(s, COLOURS["brand"]) for s in (16, 32, 48, 128, 256, 512)}
    write(os.path.join(BUNDLE, "icon.png"), brand[512])
    write(os.path.join(BUNDLE, "32x32.png"), brand[32])
    write(os.path.join(BUNDLE, "128x128.png"), brand[128])
    write(os.path.join(BUNDLE, "128x128@2x.png"), brand[256])
    write(os.path.join(BUNDLE, "icon.ico"), _ico([(s, brand[s]) for s in (16, 32, 48, 256)]))
    write(os.path.join(BUNDLE, "icon.icns"), _icns([(s, brand[s]) for s in (128, 256, 512)]))


if __name__ == "__main__":
    main()
