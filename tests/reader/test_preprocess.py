"""Preprocessing: any picture of one digit becomes the 28x28 picture MNIST would have made of it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from digit_knower.data.mnist import Split, load_test
from digit_knower.reader.picture import EmptyImageError, InvalidImageError, decode_image, pixel_count
from digit_knower.reader.preprocess import STROKE_BAND, preprocess, stroke_width
from digit_knower.training.drawings import redraw as drawing


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path) -> Split:
    return load_test(mnist_dir, download=False)


@pytest.fixture(scope="module")
def seven(mnist_test: Split) -> np.ndarray:
    """A 7 traced on a 280x280 canvas, as coverage 0-255, 70% of the canvas high, off-centre."""
    digit = mnist_test.images[0]
    assert mnist_test.labels[0] == 7
    points = drawing.skeleton_points(digit)
    return drawing.trace(points, drawing.Stroke(scale=9.0, brush=18.0, centre=(120.0, 150.0)))


def draw(digit: np.ndarray, *, scale: float, brush: float, centre: tuple[float, float]) -> np.ndarray:
    return drawing.trace(drawing.skeleton_points(digit), drawing.Stroke(scale, brush, centre))


def ink_box(picture: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(picture.any(axis=1))
    cols = np.flatnonzero(picture.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(picture: np.ndarray) -> tuple[float, float]:
    mass = picture.astype(np.float64)
    rows, cols = np.indices(picture.shape)
    return float((mass * rows).sum() / mass.sum()), float((mass * cols).sum() / mass.sum())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


# --- MNIST in, MNIST out ------------------------------------------------------------------


def test_an_mnist_digit_comes_out_essentially_unchanged(mnist_test: Split):
    outputs = np.stack([preprocess(image) for image in mnist_test.images])
    largest_change = np.abs(outputs.astype(np.int16) - mnist_test.images).max(axis=(1, 2))
    # Bit-for-bit for most; one grey level where MNIST's brightest pixel is 254, not 255;
    # more only where a stray speck in MNIST itself is cropped away.
    assert np.mean(largest_change == 0) >= 0.85
    assert np.mean(largest_change <= 1) >= 0.98


def test_a_drawing_comes_out_in_mnist_form(seven: np.ndarray):
    out = preprocess(drawing.white_on_black(seven))
    assert out.shape == (28, 28)
    assert out.dtype == np.uint8
    assert out.max() == 255
    assert max(ink_box(out)) == 20  # the longest side fits the 20x20 box
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 0.5
    assert abs(col - 14) <= 0.5
    assert out[:, :2].max() == 0  # white ink on a black background
    assert out[:2, :].max() == 0


def test_the_aspect_ratio_is_kept(mnist_test: Split):
    one = mnist_test.images[2]
    assert mnist_test.labels[2] == 1
    tall = draw(one, scale=8.0, brush=16.0, centre=(140.0, 140.0))
    height, width = ink_box(preprocess(tall))
    drawn_height, drawn_width = ink_box(tall >= 128)
    assert height == 20
    assert width == pytest.approx(20 * drawn_width / drawn_height, abs=2)


# --- Polarity and transparency ------------------------------------------------------------


def test_white_on_black_black_on_white_and_black_on_transparent_read_the_same(seven: np.ndarray):
    expected = preprocess(drawing.white_on_black(seven)).astype(np.int16)
    # Within a grey level: shrinking the canvas rounds halves up, whichever way the ink is.
    assert np.abs(preprocess(drawing.black_on_white(seven)) - expected).max() <= 1
    assert np.abs(preprocess(drawing.black_on_transparent(seven)) - expected).max() <= 1


def test_coloured_ink_on_transparent_and_dark_ink_on_grey_paper_read_the_same(seven: np.ndarray):
    expected = preprocess(drawing.white_on_black(seven)).astype(np.int16)
    blue_on_transparent = np.zeros((*seven.shape, 4), dtype=np.uint8)
    blue_on_transparent[:, :, 2] = 200
    blue_on_transparent[:, :, 3] = seven
    white_on_transparent = drawing.black_on_transparent(seven)
    white_on_transparent[:, :, :3] = 255
    grey_paper = (170 - seven * (130 / 255)).astype(np.uint8)  # dark grey ink on light grey paper
    for picture in (blue_on_transparent, white_on_transparent, grey_paper):
        assert np.abs(preprocess(picture).astype(np.int16) - expected).max() <= 3


def test_a_drawing_with_its_own_opaque_paper_inside_a_transparent_frame_reads_the_same(seven: np.ndarray):
    framed = np.zeros((320, 320, 4), dtype=np.uint8)
    framed[20:300, 20:300, :3] = drawing.black_on_white(seven)
    framed[20:300, 20:300, 3] = 255
    assert correlation(preprocess(framed), preprocess(drawing.black_on_white(seven))) >= 0.97


# --- Size, position and stroke ------------------------------------------------------------


def test_size_and_position_on_the_canvas_hardly_matter(mnist_test: Split):
    digit = mnist_test.images[1]
    small_in_a_corner = preprocess(draw(digit, scale=3.5, brush=7.0, centre=(50.0, 230.0)))
    large_in_the_middle = preprocess(draw(digit, scale=10.0, brush=20.0, centre=(140.0, 140.0)))
    assert correlation(small_in_a_corner, large_in_the_middle) >= 0.9


@pytest.mark.parametrize(("height", "brush"), [(0.9, 2.0), (0.3, 2.0), (0.9, 40.0), (0.6, 40.0)])
def test_hairlines_and_fat_strokes_come_out_with_an_mnist_stroke(
    mnist_test: Split, height: float, brush: float
):
    digit = mnist_test.images[3]  # a 0: its hole must survive a fat brush
    points = drawing.skeleton_points(digit)
    scale = (height * drawing.CANVAS - brush) / np.ptp(points[:, 0])
    out = preprocess(drawing.trace(points, drawing.Stroke(scale, brush, (140.0, 140.0))))
    width = stroke_width(out / 255)
    assert STROKE_BAND[0] <= width <= STROKE_BAND[1] + 0.5
    reference = preprocess(digit)
    assert correlation(out, reference) >= 0.75


def test_stroke_width_measures_rings_of_known_width():
    rows, cols = np.indices((100, 100))
    distance = np.hypot(rows - 50, cols - 50)
    six_wide = ((distance >= 27) & (distance <= 33)).astype(np.float32)
    assert stroke_width(six_wide) == pytest.approx(6, rel=0.05)
    # Grey counts as partial ink: a one-pixel ring at half strength is half a pixel wide.
    hairline = ((distance >= 29.5) & (distance < 30.5)).astype(np.float32) * 0.5
    assert stroke_width(hairline) == pytest.approx(0.5, rel=0.1)


# --- Specks and noise ---------------------------------------------------------------------


def test_stray_specks_are_ignored(seven: np.ndarray):
    expected = preprocess(drawing.white_on_black(seven))
    specked = seven.copy()
    specked[5:9, 5:9] = 255  # top left, away from the digit
    specked[262:266, 270:274] = 255  # bottom right
    specked[120:123, 8:11] = 200  # level with the digit, far to its left
    assert np.array_equal(preprocess(drawing.white_on_black(specked)), expected)


def test_faint_noise_is_ignored(seven: np.ndarray):
    rng = np.random.default_rng(3)
    paper = 255 - seven.astype(np.int16)
    noisy = np.clip(paper - rng.integers(0, 20, size=paper.shape), 0, 255).astype(np.uint8)
    clean = preprocess(paper.astype(np.uint8))
    assert correlation(preprocess(noisy), clean) >= 0.97


# --- Every kind of input ------------------------------------------------------------------


def test_pil_images_of_every_common_mode_read_the_same(seven: np.ndarray):
    expected = preprocess(drawing.black_on_white(seven)).astype(np.int16)
    grey = Image.fromarray(255 - seven)
    palette_transparent = Image.fromarray((seven >= 128).astype(np.uint8)).convert("P")
    palette_transparent.putpalette([0, 0, 0] * 256)  # black ink, index 1 ...
    palette_transparent.info["transparency"] = 0  # ... on index 0, transparent
    sixteen_bit = Image.fromarray((255 - seven).astype(np.uint16) * 257)
    pictures = {
        "L": grey,
        "1": grey.point(lambda v: 255 if v >= 128 else 0).convert("1"),
        "RGB": grey.convert("RGB"),
        "LA": Image.fromarray(drawing.black_on_transparent(seven)).convert("LA"),
        "P": grey.convert("P"),
        "P+transparency": palette_transparent,
        "I;16": sixteen_bit,
        "CMYK": grey.convert("CMYK"),
    }
    for mode, picture in pictures.items():
        difference = np.abs(preprocess(picture).astype(np.int16) - expected)
        assert difference.mean() <= 4, mode


def test_encoded_bytes_read_the_same_as_the_picture(seven: np.ndarray):
    buffer = io.BytesIO()
    Image.fromarray(drawing.black_on_transparent(seven)).save(buffer, format="PNG")
    expected = preprocess(drawing.black_on_transparent(seven))
    assert np.array_equal(preprocess(buffer.getvalue()), expected)


def test_float_arrays_in_0_to_1_read_like_uint8(seven: np.ndarray):
    expected = preprocess(seven)
    assert np.array_equal(preprocess(seven.astype(np.float32) / 255), expected)


def test_a_large_photo_sized_picture_reads_like_the_canvas(seven: np.ndarray):
    large = np.asarray(Image.fromarray(255 - seven).resize((3000, 3000), Image.Resampling.BILINEAR))
    expected = preprocess(255 - seven)
    assert correlation(preprocess(large), expected) >= 0.95


sides = st.integers(min_value=1, max_value=40)
picture_shapes = st.one_of(st.tuples(sides, sides), st.tuples(sides, sides, st.sampled_from([3, 4])))


@settings(max_examples=300, deadline=None)
@given(arrays(np.uint8, picture_shapes))
def test_any_uint8_picture_gives_mnist_form_or_a_clear_error(picture: np.ndarray):
    try:
        out = preprocess(picture)
    except (EmptyImageError, InvalidImageError):
        return
    assert out.shape == (28, 28)
    assert out.dtype == np.uint8
    assert out.max() == 255


# --- Blank pictures -----------------------------------------------------------------------

BLANK = "blank"


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        (np.zeros((280, 280), np.uint8), BLANK),
        (np.full((280, 280, 3), 255, np.uint8), BLANK),
        (np.full((280, 280), 128, np.uint8), BLANK),
        (np.zeros((280, 280, 4), np.uint8), "fully transparent"),
        (
            np.dstack([np.full((280, 280, 3), 255, np.uint8), np.zeros((280, 280), np.uint8)]),
            "fully transparent",
        ),
        (np.random.default_rng(0).integers(120, 140, (280, 280)).astype(np.uint8), BLANK),
    ],
    ids=["all-black", "all-white", "all-grey", "transparent", "transparent-white", "faint-noise"],
)
def test_blank_pictures_are_empty(picture: np.ndarray, message: str):
    with pytest.raises(EmptyImageError, match=message):
        preprocess(picture)


@pytest.mark.parametrize("size", [1, 3, 8])
def test_a_lone_speck_is_empty(size: int):
    """Too small to be anything. (A dot big enough to see is a drawing: the reader says it is no
    digit, see tests/test_reader.py.)"""
    canvas = np.zeros((280, 280), np.uint8)
    canvas[100 : 100 + size, 140 : 140 + size] = 255
    with pytest.raises(EmptyImageError, match="speck"):
        preprocess(canvas)


# --- The safe decoder ---------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims to be width x height: its IHDR chunk, then one tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def test_decode_image_reads_a_png():
    picture = decode_image(png_bytes(Image.new("RGBA", (280, 280))))
    assert picture.size == (280, 280)
    assert picture.mode == "RGBA"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is not a picture", "not a picture"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not a picture"),
    ],
    ids=["empty", "text", "eps"],
)
def test_decode_image_refuses_bytes_that_are_not_a_picture(data: bytes, message: str):
    with pytest.raises(InvalidImageError, match=message):
        decode_image(data)


def test_decode_image_refuses_a_truncated_png():
    rng = np.random.default_rng(0)
    data = png_bytes(Image.fromarray(rng.integers(0, 256, (280, 280), dtype=np.uint8)))
    with pytest.raises(InvalidImageError, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2])


@pytest.mark.parametrize(("width", "height"), [(5000, 5000), (100_000, 100_000)], ids=["25MP", "10GP-bomb"])
def test_decode_image_refuses_huge_pictures_before_decoding_them(
    decoding_spy: list[tuple[int, int]], width: int, height: int
):
    with pytest.raises(InvalidImageError, match=r"too large.*16 megapixels"):
        decode_image(png_header_only(width, height))
    assert decoding_spy == []


def test_decode_image_refuses_a_real_decompression_bomb(decoding_spy: list[tuple[int, int]]):
    bomb = png_bytes(Image.new("1", (6000, 6000)))  # 36 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(InvalidImageError, match="6000x6000"):
        decode_image(bomb)
    assert decoding_spy == []


def test_decode_image_turns_a_photo_upright_as_its_exif_says(seven: np.ndarray):
    upright = Image.fromarray(255 - seven)
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to view
    buffer = io.BytesIO()
    stored_sideways.save(buffer, format="PNG", exif=exif)
    decoded = decode_image(buffer.getvalue())
    assert np.array_equal(np.asarray(decoded), np.asarray(upright))


def test_a_picture_of_exactly_16_megapixels_is_accepted():
    picture = decode_image(png_bytes(Image.new("1", (4000, 4000))))
    assert picture.size == (4000, 4000)


def test_pixel_count_reads_only_the_header(decoding_spy: list[tuple[int, int]]):
    assert pixel_count(png_header_only(640, 480)) == 640 * 480
    assert pixel_count(png_header_only(100_000, 100_000)) == 0  # a bomb is not a picture to count
    assert pixel_count(np.zeros((280, 300, 4), np.uint8)) == 280 * 300
    assert pixel_count(Image.new("L", (50, 20))) == 1000
    assert decoding_spy == []


@pytest.mark.parametrize("image", [b"", b"not a picture", np.zeros(5), "seven.png", None], ids=repr)
def test_pixel_count_of_what_is_not_a_picture_is_0(image: object):
    assert pixel_count(image) == 0
