"""Pictures made to hurt a reader, as issue 13 found them: small files that are costly to decode."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

# Run in a fresh process: Predictor.predict on the picture's bytes, with the kernel's record of
# the peak resident size reset just before (Linux: clear_refs 5), so that the peak is the read's.
_READ_ONE = """
import json, sys, time
from digit_knower import Predictor

def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))

predictor, data = Predictor.load(), open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
before, started = kib("VmRSS:"), time.perf_counter()
try:
    outcome = f"digit {predictor.predict(data).digit}"
except ValueError as err:
    outcome = f"{type(err).__name__}: {err}"
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_mb": (kib("VmHWM:") - before) / 1024, "outcome": outcome}))
"""


def _scans(jpeg: bytes) -> list[tuple[int, int]]:
    """(start, end) of each start-of-scan segment of a JPEG, its entropy-coded data included."""
    found, at = [], 2
    while jpeg[at + 1] != 0xD9:  # up to the end-of-image marker
        marker = jpeg[at + 1]
        end = at + 2 + struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
        if marker == 0xDA:
            end = _end_of_scan_data(jpeg, end)
            found.append((at, end))
        at = end
    return found


def _end_of_scan_data(jpeg: bytes, at: int) -> int:
    """Where a scan's entropy-coded data ends: at the next marker that is not a stuffed FF00 or
    a restart marker."""
    while True:
        at = jpeg.index(b"\xff", at)
        if jpeg[at + 1] != 0 and not 0xD0 <= jpeg[at + 1] <= 0xD7:
            return at
        at += 2


def scan_bomb(scans: int, side: int = 512) -> bytes:
    """A progressive JPEG of a flat grey square whose smallest scan is repeated until the file
    holds `scans` scans: 12 bytes each, so 160,000 of them fit in 2 MB, and libjpeg decodes every
    one of them as a pass over the whole picture (about 5 s here, for 512x512 pixels)."""
    buffer = io.BytesIO()
    Image.new("L", (side, side), 128).save(buffer, "JPEG", progressive=True, quality=90)
    jpeg = buffer.getvalue()
    found = _scans(jpeg)
    start, end = min(found, key=lambda scan: scan[1] - scan[0])
    return jpeg[: found[-1][1]] + jpeg[start:end] * (scans - len(found)) + b"\xff\xd9"


def sixteen_bit_png(side: int = 4000) -> bytes:
    """A 16-bit grey PNG of one value with a dark bar (a "1"): about 40 kB for 16 megapixels."""
    pixels = np.full((side, side), 50_000, np.uint16)
    pixels[side // 4 : side * 3 // 4, side * 19 // 40 : side * 21 // 40] = 2_000
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def read_in_a_fresh_process(data: bytes) -> dict:
    """{"seconds", "peak_mb", "outcome"} of reading `data` with the shipped model, in a process of
    its own: peak_mb is how far the resident size rose above where it stood before the read."""
    with tempfile.NamedTemporaryFile(suffix=".picture") as file:
        file.write(data)
        file.flush()
        run = subprocess.run(
            [sys.executable, "-c", _READ_ONE, file.name],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(run.stdout)
