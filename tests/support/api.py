"""Pictures and clients shared by the API tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def drawn_one(fmt: str = "PNG", size: int = 280) -> bytes:
    """A canvas-style drawing of the digit 1: a thick dark stroke on white paper."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(size * 0.52, size * 0.15), (size * 0.48, size * 0.85)], fill="black", width=size // 14)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def drawn_one_and_zero(size: int = 280) -> bytes:
    """A 1 and a 0 drawn side by side, well apart, dark on white: two digits to read."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(size * 0.25, size * 0.25), (size * 0.25, size * 0.75)], fill="black", width=size // 14)
    draw.ellipse([(size * 0.57, size * 0.25), (size * 0.86, size * 0.75)], outline="black", width=size // 14)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def blank_png(size: int = 280) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (size, size), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def one_pixels() -> list[list[int]]:
    """28x28 grey levels of a 1, white ink on black, as MNIST has it."""
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[4:24, 13:16] = 255
    return pixels.tolist()
