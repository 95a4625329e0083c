"""Pictures in: what counts as one, decoding uploads safely, and one grey channel on paper.

Every way a picture arrives (a PIL image of any mode, a numpy array, the bytes of a file) ends
here as one small grey picture on its own paper: transparent parts count as paper, and a large
picture is shrunk to about WORKING_SIDE pixels across. Finding the ink on that paper is
`preprocess`'s job; this module only makes sure there is a picture to look at, and that reading
it costs little whatever was sent.

What an upload may cost is bounded before a single pixel is decoded: its format (PNG, JPEG or
WebP, read from the bytes, whatever the sender called them), its pixels (from the header), the
scans of a progressive JPEG (each scan is a pass over every pixel, and a crafted file can hold
160,000 of them in 2 MB), and its bytes per pixel. Decoding then runs against a time budget, and
16-bit greys are shrunk a band of rows at a time, so memory stays near the decoded picture's own.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from typing import Final, cast

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageChops, ImageOps

MAX_PIXELS: Final = 16_000_000
MAX_ENCODED_BYTES: Final = 32 * 1024 * 1024
# What browsers and phones make. Pillow also knows EPS (which runs Ghostscript) and dozens of rare
# formats; the format is read from the bytes, so a GIF sent as "image/png" is still a GIF.
ACCEPTED_FORMATS: Final = ("PNG", "JPEG", "WEBP")
ACCEPTED_NAMES: Final = "PNG, JPEG or WebP"
# Picture formats that are recognised from their first bytes (by Pillow's own checks) only to
# name them in the refusal: a picture, just not one of the accepted formats.
NAMED_FORMATS: Final = ("GIF", "BMP", "TIFF", "ICO", "JPEG2000", "AVIF", "QOI", "PSD", "DDS")
# HEIC (iPhone photos) is ISO-BMFF like AVIF, which Pillow cannot open; these ftyp brands say so.
_HEIC_BRANDS: Final = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
# libjpeg's progressive JPEGs have 10 scans (6 in grey), other encoders about 20. Each scan costs
# a pass over every pixel: 100 scans of 16 megapixels decode in about 0.2 s here, while the
# 160,000 scans of a crafted 2 MB file took 5 s for only 512x512 pixels.
MAX_JPEG_SCANS: Final = 100
# A PNG of 16-bit RGBA noise needs 8 bytes per pixel, a JPEG of noise at quality 100 about 5.
# Beyond METADATA_BYTES (EXIF, ICC profiles, XMP), more than this per pixel is not a picture
# file but a vehicle for something else.
MAX_BYTES_PER_PIXEL: Final = 16
METADATA_BYTES: Final = 256 * 1024
# Wall-clock seconds that decoding one upload may take. A 16-megapixel JPEG of noise takes about
# 0.9 s here, so this only stops a file no honest encoder writes; it is checked each time the
# PNG or JPEG decoder asks for more bytes (every 64 kB). WebP is decoded in one call, whose cost
# its pixels bound.
DECODE_BUDGET_S: Final = 3.0
# Larger pictures are first shrunk by a whole factor (cheap, area-averaging, alpha-aware)
# to about this size: a 280x280 canvas to 94x94, where every later step costs a ninth.
# The digit still spans more than the 20 pixels it ends up as, and a 2 px pen becomes a
# line of two-thirds contrast, which the contrast stretch restores.
WORKING_SIDE: Final = 100
# 16-bit, 32-bit and float greys are shrunk this many pixels at a time (see _wide_grey).
_BAND_PIXELS: Final = 1 << 20
_WIDE_MODES: Final = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class InvalidImageError(ValueError):
    """The input is not a picture this reader can take: bad bytes, bad array, too large."""


class UnsupportedFormatError(InvalidImageError):
    """A picture, but in a format this reader does not take (GIF, BMP, TIFF, HEIC, ...)."""


class EmptyImageError(ValueError):
    """The picture holds no digit: blank, all one colour, transparent, or only a speck."""


# ---------------------------------------------------------------------------------------
# Decoding and validation
# ---------------------------------------------------------------------------------------


class _OutOfTime(Exception):
    """Raised from inside Pillow's decoding loop when the budget is spent."""


class _BudgetedReader(io.BytesIO):
    """The upload as a file whose reads fail once `deadline` (time.monotonic) has passed.

    Pillow's decoders pull the file a block at a time, so this stops a slow decode between
    two blocks, from inside the decoding thread, without killing anything.
    """

    deadline: float | None = None

    def read(self, size: int | None = -1, /) -> bytes:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _OutOfTime
        return super().read(size)


def decode_image(data: bytes | bytearray | memoryview) -> Image.Image:
    """Decode uploaded bytes safely: PNG, JPEG or WebP, at most 16 megapixels, cheap, complete.

    Everything that bounds the cost (format, size, scans, bytes per pixel) is checked from the
    header, before a single pixel is decoded, so a decompression or scan bomb costs nothing.
    """
    size = _encoded_size(data)
    reader = _BudgetedReader(data)
    image = _open(reader, data)
    _check_pixel_count(*image.size)
    _check_encoded_cost(image, data, size)
    try:
        reader.deadline = time.monotonic() + DECODE_BUDGET_S
        image.load()
        reader.deadline = None
        # A phone photo stores "turn me" in EXIF rather than turning its pixels.
        ImageOps.exif_transpose(image, in_place=True)
    except _OutOfTime:
        raise InvalidImageError(
            f"The {image.format} file took more than {DECODE_BUDGET_S:g} s to decode, far longer than "
            "any drawing or photo of its size; save it anew as a plain PNG or JPEG."
        ) from None
    except Image.DecompressionBombError as e:
        raise _too_large_error(image.size) from e
    except Exception as e:  # truncated data, bad checksums, broken codec streams
        raise InvalidImageError(
            f"The {image.format} file is damaged or incomplete (truncated?) and cannot be decoded: {e}. "
            "Upload it again, or save the drawing anew."
        ) from e
    return image


def _encoded_size(data: object) -> int:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidImageError(f"Expected the bytes of an image file, got {type(data).__name__}.")
    size = memoryview(data).nbytes
    if size == 0:
        raise InvalidImageError(
            f"The upload is empty (0 bytes): send a {ACCEPTED_NAMES} file of the drawing."
        )
    if size > MAX_ENCODED_BYTES:
        raise InvalidImageError(
            f"The file is {size / 2**20:.1f} MiB; at most {MAX_ENCODED_BYTES // 2**20} MiB is accepted. "
            "Send a smaller picture."
        )
    return size


def _open(reader: io.BytesIO, data: bytes | bytearray | memoryview) -> Image.Image:
    """The picture's header, parsed by Pillow for the accepted formats only."""
    try:
        return Image.open(reader, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as e:
        raise _too_large_error(None) from e
    except Exception as e:  # Pillow raises many types for foreign bytes; all mean "not an image".
        other = other_format(data)
        if other is not None:
            raise UnsupportedFormatError(
                f"This is a {other} picture; only {ACCEPTED_NAMES} pictures are read. "
                "Save the drawing as PNG (or JPEG) and send it again."
            ) from e
        raise InvalidImageError(
            "These bytes are not a picture this reader understands. "
            f"Send a {ACCEPTED_NAMES} file ({type(e).__name__})."
        ) from e


def other_format(data: bytes | bytearray | memoryview) -> str | None:
    """The name of the picture format these bytes are in when it is not an accepted one (from
    the header only), or None when they are no picture file known here."""
    head = bytes(memoryview(data)[:16])
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "HEIC"
    try:
        with Image.open(io.BytesIO(data), formats=NAMED_FORMATS) as header:
            return header.format
    except Exception:  # not one of them either
        return None


def _check_pixel_count(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InvalidImageError(f"The picture is {width}x{height} pixels: it has no pixels to read.")
    if width * height > MAX_PIXELS:
        raise _too_large_error((width, height))


def _check_encoded_cost(image: Image.Image, data: bytes | bytearray | memoryview, size: int) -> int:
    """Refuse what would cost far more to decode than its pixels suggest; returns the JPEG scans."""
    scans = _jpeg_scans(image, data)
    if scans > MAX_JPEG_SCANS:
        raise InvalidImageError(
            f"The JPEG file holds {scans} scans (progressive passes over the picture); at most "
            f"{MAX_JPEG_SCANS} are read, and ordinary encoders write about 10. Save it anew as a "
            "baseline JPEG or a PNG."
        )
    pixels = image.width * image.height
    if size > METADATA_BYTES + MAX_BYTES_PER_PIXEL * pixels:
        raise InvalidImageError(
            f"The {image.format} file holds {size:,} bytes for only {image.width}x{image.height} "
            f"pixels, far more than any picture of that size needs (at most {MAX_BYTES_PER_PIXEL} "
            "bytes a pixel); save it anew without extra data."
        )
    return scans


def _jpeg_scans(image: Image.Image, data: bytes | bytearray | memoryview) -> int:
    """How many scans a JPEG holds: its start-of-scan markers (0 for other formats).

    Entropy-coded data never holds the bytes FF DA (an FF there is always followed by 00 or a
    restart marker), so this counts every scan, and at most overcounts a thumbnail's.
    """
    if image.format not in ("JPEG", "MPO"):
        return 0
    return (data if isinstance(data, bytes | bytearray) else bytes(data)).count(b"\xff\xda")


def decoding_cost(image: object) -> int:
    """About how much work reading `image` takes, without decoding it: its pixels, times the
    scans of a progressive JPEG. 0 for what is not a picture, or one refused from its header
    alone (`decode_image` says what is wrong at no cost)."""
    if not isinstance(image, bytes | bytearray | memoryview):
        return pixel_count(image)

    def cost(header: Image.Image) -> int:
        try:
            _check_pixel_count(*header.size)
            scans = _check_encoded_cost(header, image, memoryview(image).nbytes)
        except InvalidImageError:
            return 0
        return header.width * header.height * max(1, scans)

    return _from_header(image, cost)


def _too_large_error(size: tuple[int, int] | None) -> InvalidImageError:
    what = f"{size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.1f} megapixels" if size else "enormous"
    return InvalidImageError(
        f"The picture is too large ({what}); at most {MAX_PIXELS / 1e6:.0f} megapixels is accepted. "
        "Scale it down first."
    )


def pixel_count(image: object) -> int:
    """How many pixels a picture has, found without decoding it (encoded bytes: from the
    header). 0 for anything that is not a picture: `preprocess` says what is wrong with it."""
    if isinstance(image, Image.Image):
        return image.width * image.height
    if isinstance(image, np.ndarray):
        return image.shape[0] * image.shape[1] if image.ndim in (2, 3) else 0
    if isinstance(image, bytes | bytearray | memoryview):
        return _from_header(image, lambda h: h.width * h.height)
    return 0


def _from_header(data: bytes | bytearray | memoryview, measure: Callable[[Image.Image], int]) -> int:
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as header:
            return measure(header)
    except Exception:  # not an image (or a decompression bomb): decode_image explains which
        return 0


def to_pil(image: object) -> Image.Image:
    """Any accepted input as a PIL image: a PIL image, encoded bytes, or a uint8 numpy array."""
    if isinstance(image, Image.Image):
        _check_pixel_count(*image.size)
        return image
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_image(image)
    if isinstance(image, np.ndarray):
        return _array_to_pil(image)
    raise InvalidImageError(
        f"Cannot read a digit from a {type(image).__name__}: pass a PIL image, a numpy array "
        "(H,W), (H,W,3) or (H,W,4) of uint8, or the bytes of an image file "
        "(for a file on disk: Path(...).read_bytes())."
    )


def _array_to_pil(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    channels = 2 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else 0)
    if array.ndim not in (2, 3) or (array.ndim == 3 and channels not in (3, 4)):
        raise InvalidImageError(
            f"An array of shape {array.shape} is not a picture: expected (H,W) grey, (H,W,3) RGB "
            "or (H,W,4) RGBA."
        )
    _check_pixel_count(array.shape[1], array.shape[0])
    array = _as_uint8(array)
    return Image.fromarray(np.ascontiguousarray(array))


def _as_uint8(array: np.ndarray) -> NDArray[np.uint8]:
    """uint8 as is; bool as 0/255; floats only as 0..1 (as matplotlib reads PNGs)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        _check_unit_floats(array)
        return np.rint(array * 255).astype(np.uint8)
    raise InvalidImageError(
        f"Arrays of dtype {array.dtype} are not accepted: pass uint8 pixels 0-255 "
        "(e.g. array.astype(np.uint8)) or floats 0..1."
    )


def _check_unit_floats(values: np.ndarray) -> None:
    if not np.isfinite(values).all():
        raise InvalidImageError("The array holds NaN or infinite values; a picture needs finite pixels.")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise InvalidImageError(
            f"A float array must hold values 0..1, this one spans {low:g}..{high:g}. "
            "Pass uint8 pixels 0-255 instead."
        )


# ---------------------------------------------------------------------------------------
# One grey channel on paper
# ---------------------------------------------------------------------------------------


def grey_on_paper(image: Image.Image) -> Image.Image:
    """One grey channel, transparent parts replaced by paper, shrunk to about WORKING_SIDE."""
    if image.mode in _WIDE_MODES:
        return _wide_grey(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return _composite_on_paper(image if image.mode in ("RGBA", "LA") else _converted(image, "RGBA"))
    return _shrunk(_converted(image, "L"))


def _converted(image: Image.Image, mode: str) -> Image.Image:
    """`image.convert(mode)`, with an error a person can act on for the modes Pillow cannot
    convert (LAB, premultiplied La)."""
    try:
        return image.convert(mode)
    except ValueError as e:
        raise InvalidImageError(
            f"Pictures in {image.mode} mode cannot be read ({e}); convert it to RGB or greyscale "
            "(mode L) first."
        ) from e


def _wide_grey(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greys as 8-bit grey, shrunk, a band of rows at a time.

    No full-size copy wider than the picture itself is ever made: a 16-megapixel 16-bit PNG costs
    its own 32 MB and a few more, where int64 arrays of it took half a gigabyte. Integers keep
    their top 8 bits when they use more (Pillow's convert would clip at 255); floats must lie in
    0..1, as matplotlib reads PNGs.
    """
    width, height = image.size
    factor = max(1, math.ceil(max(width, height) / WORKING_SIDE))
    rows = factor * max(1, _BAND_PIXELS // (width * factor))  # whole blocks of `factor` rows
    bands: list[NDArray[np.float64]] = []
    brightest = 0.0
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows)))
        if band.mode == "F":
            _check_unit_floats(np.asarray(band))
        else:
            band = band.convert("I")  # a band-sized int32 copy: Pillow shrinks I, not I;16
            # One band, so the extrema are (least, most), not a pair per band.
            least_most = cast(tuple[float, float], band.getextrema())
            brightest = max(brightest, float(least_most[1]))
        bands.append(np.asarray(band.reduce(factor) if factor > 1 else band, dtype=np.float64))
    grey = np.vstack(bands)
    if image.mode == "F":
        grey = grey * 255
    elif brightest > 255:
        grey = grey / 256
    return Image.fromarray(np.rint(grey.clip(0, 255)).astype(np.uint8))


def _composite_on_paper(image: Image.Image) -> Image.Image:
    """Grey on paper, shrunk: transparent means paper, half transparent means half ink.

    Every question is asked of the shrunk channels: Pillow's full-size statistics (such as
    getextrema) are slow. Shrinking is an average, so shrinking grey*alpha and alpha apart
    and compositing after is exact.
    """
    alpha = image.getchannel("A")
    small_alpha = _shrunk(alpha)
    least_alpha, most_alpha = small_alpha.getextrema()
    if least_alpha == 255:
        return _shrunk(image.convert("L"))
    if most_alpha == 0:  # (or so faint that shrinking rounds it away)
        raise EmptyImageError("The picture is fully transparent: nothing is drawn on it. Draw a digit first.")
    coverage = float(np.asarray(small_alpha).mean()) / 255
    if coverage < 0.5:
        # Strokes on a transparent canvas: whatever their colours, the alpha channel is
        # the drawing (white ink on black paper).
        return small_alpha
    # A mostly opaque picture carries its own paper and ink: keep its colours, and show
    # its paper through the transparent parts.
    tinted = _shrunk(ImageChops.multiply(image.convert("L"), alpha))  # grey * alpha / 255
    visible_grey = float(np.asarray(tinted, dtype=np.float32).mean()) / coverage
    behind = small_alpha.point(lambda a: round(visible_grey * (255 - a) / 255))
    return ImageChops.add(tinted, behind)


def _shrunk(grey: Image.Image) -> Image.Image:
    """Shrunk by a whole factor to about WORKING_SIDE: cheap, and an exact area average."""
    factor = math.ceil(max(grey.size) / WORKING_SIDE)
    return grey.reduce(factor) if factor > 1 else grey
