"""A fuzz run over picture files, through the API: every answer below 500, every refusal a problem
document (issue 13).

The corpus: a drawing of a "1" in every Pillow mode, saved in every format Pillow can write; PNGs
of every bit depth and colour type, written by hand where Pillow cannot; animated GIFs, WebPs
and PNGs; JPEGs and WebPs with each of the 8 EXIF orientations; each accepted file cut short at
several points; and seeded random byte corruptions of them. Whole PNG, JPEG and WebP files must
read (201), in every mode they can hold; damaged ones are refused (400); the picture formats that
are not read get 415 by name, and no other format is ever read.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from digit_knower.api import create_app
from digit_knower.reader.picture import ACCEPTED_FORMATS, NAMED_FORMATS
from digit_knower.settings import get_settings

PROBLEM = "application/problem+json"
# A multi-picture JPEG (as phones write) is a JPEG: Pillow's JPEG reader opens it.
READ_FORMATS = {*ACCEPTED_FORMATS, "MPO"}
SIDE = 96
MODES = (
    "1", "L", "P", "LA", "PA", "RGB", "RGBA", "RGBX", "RGBa", "La", "CMYK", "YCbCr", "LAB", "HSV",
    "I", "I;16", "I;16B", "I;16L", "I;16N", "F",
)  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One API for the whole run, on its own embedded SQLite database."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DIGIT_KNOWER_STATE_DIR", str(tmp_path_factory.mktemp("fuzz-state")))
        for name in ("DATABASE_URL", "DIGIT_KNOWER_API_KEY"):
            env.delenv(name, raising=False)
        get_settings.cache_clear()
        with TestClient(create_app()) as c:
            yield c
    get_settings.cache_clear()


def drawing(mode: str) -> Image.Image | None:
    """A dark "1" on light paper in `mode`, or None where Pillow cannot make one."""
    rgb = Image.new("RGB", (SIDE, SIDE), "white")
    ImageDraw.Draw(rgb).line([(50, 12), (46, 84)], fill="black", width=9)
    try:
        return rgb.convert(mode)
    except ValueError:
        try:  # a mode Pillow converts nothing into (LAB, ...): draw in it directly
            image = Image.new(mode, (SIDE, SIDE))
            ImageDraw.Draw(image).line([(50, 12), (46, 84)], fill=(255, 128, 128)[: len(image.getbands())])
            return image
        except (ValueError, TypeError):
            return None


def saved(image: Image.Image, fmt: str, **options: object) -> bytes | None:
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt, **options)
    except Exception:  # this format cannot hold this mode: not part of the corpus
        return None
    return buffer.getvalue()


def every_mode_in_every_format() -> list[tuple[str, str, bytes]]:
    Image.init()
    corpus = []
    for mode in MODES:
        image = drawing(mode)
        for fmt in sorted(Image.SAVE) if image is not None else ():
            data = saved(image, fmt)
            if data is not None and len(data) < 2**20:
                corpus.append((f"{mode} as {fmt}", fmt, data))
    return corpus


def png_by_hand(bit_depth: int, colour_type: int) -> bytes:
    """A PNG of any legal bit depth and colour type: a bright square with a dark bar."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    top = 2**bit_depth - 1
    pixels = np.full((SIDE, SIDE, channels), top, np.uint32)
    pixels[12:84, 44:52, : 1 if colour_type in (0, 3, 4) else 3] = 0
    if colour_type == 3:
        pixels[..., 0] = np.where(pixels[..., 0] == 0, 0, 1)
    rows = b"".join(b"\x00" + _packed(row, bit_depth) for row in pixels.reshape(SIDE, SIDE * channels))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    palette = chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff") if colour_type == 3 else b""
    header = struct.pack(">IIBBBBB", SIDE, SIDE, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + palette
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _packed(values: np.ndarray, bit_depth: int) -> bytes:
    if bit_depth == 16:
        return values.astype(">u2").tobytes()
    if bit_depth == 8:
        return values.astype(np.uint8).tobytes()
    bits = np.unpackbits(values.astype(np.uint8)[:, None], axis=1)[:, 8 - bit_depth :]
    return np.packbits(bits.ravel()).tobytes()


PNG_KINDS = [(d, 0) for d in (1, 2, 4, 8, 16)] + [(8, 2), (16, 2), (1, 3), (2, 3), (4, 3), (8, 3)]
PNG_KINDS += [(8, 4), (16, 4), (8, 6), (16, 6)]


def animations() -> list[tuple[str, str, bytes]]:
    frames = [drawing("RGB"), Image.new("RGB", (SIDE, SIDE), "white"), drawing("RGB").rotate(90)]
    return [
        (f"animated {fmt}", fmt, saved(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100))
        for fmt in ("GIF", "WEBP", "PNG")
    ]


def rotated_by_exif() -> list[tuple[str, str, bytes]]:
    corpus = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        for fmt in ("JPEG", "WEBP", "PNG"):
            corpus.append(
                (f"{fmt} with EXIF orientation {orientation}", fmt, saved(drawing("RGB"), fmt, exif=exif))
            )
    return corpus


def accepted_samples() -> list[tuple[str, str, bytes]]:
    rgb, rgba = drawing("RGB"), drawing("RGBA")
    return [
        ("PNG", "PNG", saved(rgb, "PNG")),
        ("PNG RGBA", "PNG", saved(rgba, "PNG")),
        ("16-bit PNG", "PNG", png_by_hand(16, 0)),
        ("JPEG", "JPEG", saved(rgb, "JPEG")),
        ("progressive JPEG", "JPEG", saved(rgb, "JPEG", progressive=True)),
        ("CMYK JPEG", "JPEG", saved(drawing("CMYK"), "JPEG")),
        ("WebP", "WEBP", saved(rgb, "WEBP")),
        ("lossless WebP with alpha", "WEBP", saved(rgba, "WEBP", lossless=True)),
    ]


def post(client: TestClient, data: bytes, as_json: bool = False):
    if as_json:
        return client.post("/v1/predictions", json={"image": base64.b64encode(data).decode()})
    return client.post("/v1/predictions", files={"file": ("picture", data, "image/png")})


def violations(client: TestClient, corpus: list[tuple[str, str, bytes]], *, expect_read: bool) -> list[str]:
    """What went wrong for each file: a 5xx, a refusal that is not a problem document, a format
    that should not be read but was, or (expect_read) an accepted format that was not read."""
    found = []
    for name, fmt, data in corpus:
        answer = post(client, data, as_json=len(found) % 2 == 1)
        status = answer.status_code
        if status >= 500:
            found.append(f"{name}: {status}")
        elif status != 201 and not (
            answer.headers["content-type"] == PROBLEM and answer.json()["status"] == status
        ):
            found.append(f"{name}: {status} without a problem document")
        elif fmt in NAMED_FORMATS and status != 415:
            found.append(f"{name}: {status}, not 415")
        elif fmt not in READ_FORMATS and status == 201:
            found.append(f"{name}: read, though {fmt} is not accepted")
        elif expect_read and fmt in READ_FORMATS and status != 201:
            found.append(f"{name}: {status} {answer.json()['detail']}")
    return found


@pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
def test_every_mode_in_every_format_is_read_or_refused_with_a_problem_document(client: TestClient):
    corpus = every_mode_in_every_format()
    assert len(corpus) > 150 and {fmt for _, fmt, _ in corpus} >= {*ACCEPTED_FORMATS, "GIF", "TIFF"}
    assert violations(client, corpus, expect_read=True) == []


@pytest.mark.parametrize(("bit_depth", "colour_type"), PNG_KINDS)
def test_pngs_of_every_bit_depth_and_colour_type_read_as_a_one(client: TestClient, bit_depth, colour_type):
    answer = post(client, png_by_hand(bit_depth, colour_type))
    assert answer.status_code == 201, answer.text
    assert answer.json()["digit"] == 1


def test_animations_read_their_first_frame_or_are_refused_by_format(client: TestClient):
    corpus = animations()
    assert [Image.open(io.BytesIO(data)).n_frames for _, _, data in corpus] == [3, 3, 3]
    assert violations(client, corpus, expect_read=True) == []


def test_every_exif_orientation_is_read(client: TestClient):
    assert violations(client, rotated_by_exif(), expect_read=True) == []


def test_files_cut_short_are_refused_as_damaged_with_a_problem_document(client: TestClient):
    cut = [
        (f"{name} cut to {keep:.0%}", fmt, data[: int(len(data) * keep)])
        for name, fmt, data in accepted_samples()
        for keep in (0.02, 0.1, 0.5, 0.9, 0.99)
    ]
    assert violations(client, cut, expect_read=False) == []
    refused = [name for name, _, data in cut if post(client, data).status_code == 400]
    assert len(refused) >= len(cut) * 0.8  # a cut after the last pixel may still read


def test_random_corruptions_never_get_a_server_error(client: TestClient):
    rng = random.Random(13)
    corrupted = []
    for name, fmt, data in accepted_samples():
        for n in range(25):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            corrupted.append((f"{name}, corruption {n}", fmt, bytes(damaged)))
    assert violations(client, corrupted, expect_read=False) == []
