"""Pictures made to hurt a reader, as issue 13 found them: small files that are costly to decode."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image


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
