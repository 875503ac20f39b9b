"""Waiting until Chromium has painted the sandboxed mail frame, before a screenshot.

Chromium puts a sandboxed frame without `allow-same-origin` into a process of its own
(site isolation of sandboxed frames, an out-of-process iframe). That process paints on its own
schedule: the frame's DOM can be complete - so Playwright's `expect(...)` on its text passes -
while the page's compositor still shows the frame blank, and a screenshot taken at that moment
has an empty white box where the mail should be (docs/screenshots/ticket.png once did).
Script cannot run in the frame (no `allow-scripts`, CSP `default-src 'none'`), so nothing in it
can say it has painted; `wait_until_painted` instead takes screenshots of the frame's box until
they show more than one colour inside its border.
"""

from __future__ import annotations

import struct
import time
import zlib

from playwright.sync_api import Locator


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def png_rows(png: bytes) -> tuple[list[bytes], int]:
    """The pixel rows of an 8-bit RGB or RGBA PNG (what Chromium writes), unfiltered, and
    the bytes per pixel."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, data, width, height, channels = 8, b"", 0, 0, 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8, "only 8-bit PNGs"
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        method = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            predictor = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[method]
            line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows, channels


def has_content(png: bytes, *, inset: int = 4) -> bool:
    """True when the upper half of the image shows more than one colour inside its border.

    Only the upper half: a mail starts at the top, and the frame's resize grip (CSS `resize`)
    is drawn in the bottom corner even while the frame is blank.
    """
    rows, step = png_rows(png)
    pixels = {
        row[i : i + 3]
        for row in rows[inset : len(rows) // 2]
        for i in range(inset * step, len(row) - inset * step, step)
    }
    return len(pixels) > 1


def wait_until_painted(frame: Locator, timeout: float = 10.0) -> None:
    """Wait until the frame element's box shows its document (see the module's docstring)."""
    deadline = time.monotonic() + timeout
    while not has_content(frame.screenshot(animations="disabled")):
        if time.monotonic() > deadline:
            raise AssertionError("the mail frame stayed blank")
        time.sleep(0.05)
