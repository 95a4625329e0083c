"""Reading pictures safely: what an upload may cost, which formats are read, and every mode's grey.

(The everyday decoding tests live with preprocessing, in test_preprocess.py; these are the hostile
and the unusual pictures of issue 13.)
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digit_knower import Predictor
from digit_knower.reader import picture as picture_module
from digit_knower.reader.picture import (
    MAX_JPEG_SCANS,
    InvalidImageError,
    UnsupportedFormatError,
    decode_image,
    decoding_cost,
    grey_on_paper,
)
from digit_knower.reader.preprocess import preprocess
from tests.support.api import drawn_one
from tests.support.hostile_pictures import encoded, read_in_a_fresh_process, scan_bomb, sixteen_bit_png


def one(mode: str = "L", size: int = 280) -> Image.Image:
    """A dark stroke of a "1" on white paper, in `mode`."""
    image = Image.new("L", (size, size), 255)
    ImageDraw.Draw(image).line([(size * 0.52, size * 0.15), (size * 0.48, size * 0.85)], fill=0, width=20)
    return image.convert(mode)


# --- What an upload may cost --------------------------------------------------------------


def test_a_scan_bomb_jpeg_is_refused_before_a_pixel_is_decoded(decoding_spy: list[tuple[int, int]]):
    bomb = scan_bomb(160_000)  # 1.9 MB; decoding it took 5-9 s
    assert len(bomb) < 2 * 2**20

    with pytest.raises(InvalidImageError, match=r"160000 scans.*at most 100"):
        decode_image(bomb)
    assert decoding_spy == []


def test_a_progressive_jpeg_of_up_to_100_scans_is_decoded():
    assert decode_image(scan_bomb(MAX_JPEG_SCANS)).size == (512, 512)
    with pytest.raises(InvalidImageError, match="101 scans"):
        decode_image(scan_bomb(MAX_JPEG_SCANS + 1))


def test_an_ordinary_progressive_jpeg_reads_like_a_baseline_one():
    progressive = encoded(one("RGB"), "JPEG", progressive=True, quality=90)
    baseline = encoded(one("RGB"), "JPEG", quality=90)
    assert np.abs(preprocess(progressive).astype(int) - preprocess(baseline)).mean() < 2


def test_a_file_far_larger_than_its_pixels_is_refused_before_decoding(decoding_spy: list[tuple[int, int]]):
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("padding", "x" * 600_000)
    stuffed = encoded(Image.new("L", (20, 20)), "PNG", pnginfo=text)

    with pytest.raises(InvalidImageError, match=r"bytes for only 20x20 pixels"):
        decode_image(stuffed)
    assert decoding_spy == []


def test_a_decode_that_outlasts_its_time_budget_is_stopped(monkeypatch: pytest.MonkeyPatch):
    # No honest file takes 3 s; so that the check is exercised, the budget is spent before it starts.
    monkeypatch.setattr(picture_module, "DECODE_BUDGET_S", -1.0)
    with pytest.raises(InvalidImageError, match="took more than -1 s to decode"):
        decode_image(drawn_one("JPEG"))


def test_decoding_cost_counts_a_progressive_jpeg_s_scans_from_its_header(
    decoding_spy: list[tuple[int, int]],
):
    assert decoding_cost(encoded(one(), "PNG")) == 280 * 280
    assert decoding_cost(encoded(one(), "JPEG")) == 280 * 280
    assert decoding_cost(encoded(one(), "JPEG", progressive=True)) == 280 * 280 * 6  # 6 grey scans
    assert decoding_cost(scan_bomb(MAX_JPEG_SCANS)) == 512 * 512 * MAX_JPEG_SCANS
    assert decoding_cost(scan_bomb(160_000)) == 0  # refused from its header: costs nothing
    assert decoding_cost(np.zeros((30, 40), np.uint8)) == 1200
    assert decoding_cost(b"not a picture") == 0
    assert decoding_spy == []


# --- 16-bit greys, memory, and modes Pillow cannot convert --------------------------------


def test_a_16_megapixel_16_bit_png_is_read_in_tens_of_megabytes():
    """It took 2.5 s and 530 MB (issue 13): int64 copies of 16 million pixels."""
    png = sixteen_bit_png()
    read = read_in_a_fresh_process(png)
    print(f"16-bit 4000x4000 PNG, {len(png)} bytes: {read['seconds']:.2f} s, peak +{read['peak_mb']:.0f} MB")
    assert len(png) < 100_000
    assert read["outcome"] == "digit 1"
    # The decoded picture itself takes 32 MB; the reading adds a few on top.
    assert read["peak_mb"] < 64


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I", "F"])
def test_wide_greys_read_like_their_8_bit_picture(mode: str):
    grey = np.asarray(one("L", size=1000), dtype=np.float64)  # 1000 px: shrunk in several bands
    scaled = grey / 255 if mode == "F" else grey * 257  # 16-bit levels, also in 32-bit "I"
    dtype = {"I;16": np.uint16, "I;16B": ">u2", "I": np.int32, "F": np.float32}[mode]
    wide = Image.fromarray(scaled.astype(dtype))
    assert wide.mode == mode

    expected = np.asarray(grey_on_paper(one("L", size=1000)), dtype=np.int16)
    assert np.abs(np.asarray(grey_on_paper(wide), dtype=np.int16) - expected).max() <= 1


def test_a_16_bit_picture_that_uses_only_8_bits_keeps_its_levels():
    small = Image.fromarray(np.asarray(one("L")).astype(np.uint16))
    assert small.mode == "I;16"
    assert np.array_equal(np.asarray(grey_on_paper(small)), np.asarray(grey_on_paper(one("L"))))


def test_a_float_picture_outside_0_to_1_is_refused():
    with pytest.raises(InvalidImageError, match=r"0\.\.1"):
        grey_on_paper(Image.fromarray(np.full((50, 50), 3.0, np.float32)))


def test_a_lab_picture_gets_an_invalid_image_error_naming_its_mode():
    """It got a 500: Pillow's bare ValueError "conversion from LAB to L not supported"."""
    lab = Image.new("LAB", (280, 280), (100, 0, 0))
    with pytest.raises(InvalidImageError, match="LAB mode"):
        Predictor.load().predict(lab)


def test_in_a_batch_the_lab_picture_is_named_by_its_index():
    lab = Image.new("LAB", (280, 280), (100, 0, 0))
    with pytest.raises(InvalidImageError, match=r"Image 1 of the batch: .*LAB mode"):
        Predictor.load().predict_batch([one(), lab, one()])


# --- Formats ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_png_jpeg_and_webp_are_read(fmt: str):
    assert Predictor.load().predict(encoded(one("RGB"), fmt)).digit == 1


def test_an_animated_webp_is_read_from_its_first_frame():
    frames = [one("RGB"), Image.new("RGB", (280, 280), "white")]
    animation = encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert Image.open(io.BytesIO(animation)).n_frames == 2
    assert Predictor.load().predict(animation).digit == 1


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("GIF", {}), ("BMP", {}), ("TIFF", {}), ("ICO", {"sizes": [(64, 64)]}), ("QOI", {}), ("DDS", {})],
)
def test_other_picture_formats_are_refused_by_name(fmt: str, options: dict):
    data = encoded(one("RGBA" if fmt == "DDS" else "RGB"), fmt, **options)
    with pytest.raises(UnsupportedFormatError, match=rf"This is a {fmt} picture; only PNG, JPEG or WebP"):
        decode_image(data)


def test_a_heic_photo_is_refused_by_name():
    header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    with pytest.raises(UnsupportedFormatError, match="HEIC"):
        decode_image(header)


@pytest.mark.parametrize("data", [b"BM is not a bitmap", b"GIF89a, or so it says", b"\x00" * 64])
def test_bytes_that_only_start_like_a_picture_are_no_picture(data: bytes):
    with pytest.raises(InvalidImageError, match="not a picture") as raised:
        decode_image(data)
    assert not isinstance(raised.value, UnsupportedFormatError)


def test_the_16_bit_test_picture_decodes_as_16_bit_grey():
    decoded = decode_image(sixteen_bit_png(400))
    assert (decoded.mode, decoded.size) == ("I;16", (400, 400))
