"""Pictures in: what counts as one, decoding uploads safely, and one grey channel on paper.

Every way a picture arrives (a PIL image of any mode, a numpy array, the bytes of a file) ends
here as one small grey picture on its own paper: transparent parts count as paper, and a large
picture is shrunk to about WORKING_SIDE pixels across. Finding the ink on that paper is
`preprocess`'s job; this module only makes sure there is a picture to look at, and that reading
it costs little whatever was sent.
"""

from __future__ import annotations

import io
import math
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageChops, ImageOps

MAX_PIXELS: Final = 16_000_000
MAX_ENCODED_BYTES: Final = 32 * 1024 * 1024
# Pillow also knows EPS (which runs Ghostscript) and dozens of rare formats; an upload
# only ever needs these.
DECODABLE_FORMATS: Final = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
# Larger pictures are first shrunk by a whole factor (cheap, area-averaging, alpha-aware)
# to about this size: a 280x280 canvas to 94x94, where every later step costs a ninth.
# The digit still spans more than the 20 pixels it ends up as, and a 2 px pen becomes a
# line of two-thirds contrast, which the contrast stretch restores.
WORKING_SIDE: Final = 100


class InvalidImageError(ValueError):
    """The input is not a picture this reader can take: bad bytes, bad array, too large."""


class EmptyImageError(ValueError):
    """The picture holds no digit: blank, all one colour, transparent, or only a speck."""


# ---------------------------------------------------------------------------------------
# Decoding and validation
# ---------------------------------------------------------------------------------------


def decode_image(data: bytes | bytearray | memoryview) -> Image.Image:
    """Decode uploaded bytes safely: a known format, at most 16 megapixels, complete.

    The size is checked from the header, before a single pixel is decoded, so a
    decompression bomb costs nothing.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidImageError(f"Expected the bytes of an image file, got {type(data).__name__}.")
    size = memoryview(data).nbytes
    if size == 0:
        raise InvalidImageError("The upload is empty (0 bytes): send a PNG or JPEG file of the drawing.")
    if size > MAX_ENCODED_BYTES:
        raise InvalidImageError(
            f"The file is {size / 2**20:.1f} MiB; at most {MAX_ENCODED_BYTES // 2**20} MiB is accepted. "
            "Send a smaller picture."
        )
    try:
        image = Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)
    except Image.DecompressionBombError as e:
        raise _too_large_error(None) from e
    except Exception as e:  # Pillow raises many types for foreign bytes; all mean "not an image".
        raise InvalidImageError(
            "These bytes are not a picture this reader understands. "
            f"Send a PNG, JPEG, GIF, BMP, WebP or TIFF file ({type(e).__name__})."
        ) from e
    _check_pixel_count(*image.size)
    try:
        image.load()
        # A phone photo stores "turn me" in EXIF rather than turning its pixels.
        ImageOps.exif_transpose(image, in_place=True)
    except Image.DecompressionBombError as e:
        raise _too_large_error(image.size) from e
    except Exception as e:  # truncated data, bad checksums, broken codec streams
        raise InvalidImageError(
            f"The {image.format} file is damaged or incomplete (truncated?) and cannot be decoded: {e}. "
            "Upload it again, or save the drawing anew."
        ) from e
    return image


def _check_pixel_count(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InvalidImageError(f"The picture is {width}x{height} pixels: it has no pixels to read.")
    if width * height > MAX_PIXELS:
        raise _too_large_error((width, height))


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
        try:
            with Image.open(io.BytesIO(image), formats=DECODABLE_FORMATS) as header:
                return header.width * header.height
        except Exception:  # not an image (or a decompression bomb): decode_image explains which
            return 0
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
        if not np.isfinite(array).all():
            raise InvalidImageError("The array holds NaN or infinite values; a picture needs finite pixels.")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise InvalidImageError(
                f"A float array must hold values 0..1, this one spans {low:g}..{high:g}. "
                "Pass uint8 pixels 0-255 instead."
            )
        return np.rint(array * 255).astype(np.uint8)
    raise InvalidImageError(
        f"Arrays of dtype {array.dtype} are not accepted: pass uint8 pixels 0-255 "
        "(e.g. array.astype(np.uint8)) or floats 0..1."
    )


# ---------------------------------------------------------------------------------------
# One grey channel on paper
# ---------------------------------------------------------------------------------------


def grey_on_paper(image: Image.Image) -> Image.Image:
    """One grey channel, transparent parts replaced by paper, shrunk to about WORKING_SIDE."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greys: keep the top 8 bits (Pillow's convert would clip at 255).
        wide = np.asarray(image, dtype=np.int64)
        return _shrunk(
            Image.fromarray((wide >> 8 if wide.max() > 255 else wide).clip(0, 255).astype(np.uint8))
        )
    if image.mode == "F":
        return _shrunk(Image.fromarray(_as_uint8(np.asarray(image))))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return _composite_on_paper(image if image.mode in ("RGBA", "LA") else image.convert("RGBA"))
    return _shrunk(image.convert("L"))


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
