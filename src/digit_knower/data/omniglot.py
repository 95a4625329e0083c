"""Omniglot characters drawn with a mouse, as strokes: read, verify, download, convert.

Public home: sketch-rnn's data sets (David Ha), `omniglot/omniglot.npz`, MIT licence. That file
holds *pickled* object arrays, and unpickling runs whatever code a pickle names. So its SHA-256 is
checked before anything reads it; only then is it loaded, once, and converted to a plain file
(`omniglot_strokes.npz`, the format of the copy in ../shared/data) that is always loaded with
`allow_pickle=False`. Nothing else is ever unpickled.

The plain file is checked by its own SHA-256 before it is loaded. The conversion writes exactly
the bytes of the copy in ../shared/data (deflated with zlib's default level, fixed time stamps);
where this Python's deflate gives other bytes (zlib-ng), it writes the same arrays uncompressed,
whose bytes are known as well.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digit_knower.data.download import (
    DataError,
    DownloadError,
    atomic_file,
    download_first,
    download_verified,
    mirror_url,
    require_sha256,
)
from digit_knower.data.layout import set_dir

ORIGINAL_FILE = "omniglot.npz"
PLAIN_FILE = "omniglot_strokes.npz"
HOMES = (
    "https://github.com/hardmaru/sketch-rnn-datasets/raw/master/omniglot/omniglot.npz",
    "https://raw.githubusercontent.com/hardmaru/sketch-rnn-datasets/master/omniglot/omniglot.npz",
)
ORIGINAL_SHA256 = "bd5277621a8c577919491dfa729a59a8b5c216cff9e4fda9cef532db29f120c7"
# The plain file's SHA-256 for each way of writing it: deflated (the copy in ../shared/data) or
# stored, for a deflate that compresses differently.
PLAIN_SHA256 = {
    zipfile.ZIP_DEFLATED: "28b7a12b99f0d70961b709c950f556c00f99c0255b5b8531db4009dd9e8567b3",
    zipfile.ZIP_STORED: "663149f93e487d74393c5827d971a2d022ce5f704b378991e9ecde70dbb27bc5",
}
SPLITS = ("train", "valid")  # the original's test split is kept out
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest time stamp: the same bytes every time


@dataclass(frozen=True)
class Drawings:
    """One split's drawings in sketch-rnn's stroke-3 form.

    strokes: (P, 3) int16, every drawing's points one after another, each row (dx, dy, pen_lifted):
    the offset from the previous point, and 1 when the pen lifts after this point.
    offsets: (N + 1,) int64; drawing i is strokes[offsets[i]:offsets[i + 1]].
    """

    strokes: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        """Drawing i's rows, (n, 3) int16."""
        if not 0 <= i < len(self):
            raise IndexError(f"drawing {i} of {len(self)}")
        return self.strokes[self.offsets[i] : self.offsets[i + 1]]

    def head(self, count: int) -> Drawings:
        """The first `count` drawings (all of them when there are fewer)."""
        count = min(count, len(self))
        return Drawings(self.strokes[: self.offsets[count]], self.offsets[: count + 1])

    def polylines(self, i: int) -> list[np.ndarray]:
        """Drawing i as the strokes the pen drew: one (k, 2) float32 array of absolute (x, y) points
        per stroke, in drawing order; y grows downward, as on the screen it was drawn on."""
        rows = self[i]
        points = np.cumsum(rows[:, :2], axis=0, dtype=np.float32)
        ends = np.flatnonzero(rows[:, 2]) + 1
        return [stroke for stroke in np.split(points, ends) if len(stroke)]


@dataclass(frozen=True)
class Omniglot:
    """The Omniglot drawings, verified: 30,000 for training and 1,000 for validation."""

    train: Drawings
    valid: Drawings
    sha256: str


def load_omniglot(data_dir: Path, *, download: bool = True) -> Omniglot:
    """The drawings from the data folder, verified, downloading and converting them first if needed."""
    folder = set_dir(data_dir, "omniglot")
    if download:
        fetch(folder)
    return read_plain(folder / PLAIN_FILE)


def read_plain(path: Path) -> Omniglot:
    """Load the plain file, once its checksum is known good; never with pickles allowed."""
    if not path.exists():
        raise DataError(
            f"{path}: missing. Run `digit-knower data fetch omniglot`, which downloads sketch-rnn's "
            f"{ORIGINAL_FILE} and converts it."
        )
    digest = _require_plain(path)
    with np.load(path, allow_pickle=False) as npz:
        splits = [Drawings(npz[f"{split}_strokes"], npz[f"{split}_offsets"]) for split in SPLITS]
    return Omniglot(train=splits[0], valid=splits[1], sha256=digest)


def convert(original: Path, plain: Path, expected_sha256: str = ORIGINAL_SHA256) -> None:
    """Convert sketch-rnn's original file into the plain file, once its SHA-256 is the expected one.

    The checksum comes first: a file that is not the expected one is never unpickled. The plain
    file appears only when its own bytes are the known ones."""
    require_sha256(original, expected_sha256, f"sketch-rnn's {ORIGINAL_FILE}")
    try:
        # Pickles from Python 2 (the original's) need latin1 to load their numpy arrays.
        with np.load(original, allow_pickle=True, encoding="latin1") as npz:
            splits = {split: flatten(npz[split]) for split in SPLITS}
    except (KeyError, ValueError, TypeError) as e:
        raise DataError(f"{original}: not sketch-rnn's Omniglot stroke data ({e})") from e
    for compression, known in PLAIN_SHA256.items():
        content = plain_bytes(splits, compression)
        if hashlib.sha256(content).hexdigest() == known:
            with atomic_file(plain) as f:
                f.write(content)
            return
    raise DataError(
        f"{original}: converted to drawings other than the known ones; {plain} was not written. "
        "Please report this, with your numpy version."
    )


def flatten(drawings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One split's drawings, an object array of (n, 3) arrays, as (strokes, offsets)."""
    parts = [np.asarray(drawing).reshape(-1, 3).astype(np.int16) for drawing in drawings]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    strokes = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int16)
    return strokes, offsets


def plain_bytes(splits: dict[str, tuple[np.ndarray, np.ndarray]], compression: int) -> bytes:
    """The plain file's bytes: an npz of train/valid strokes and offsets, the same bytes each time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for split in SPLITS:
            for name, array in zip(("strokes", "offsets"), splits[split], strict=True):
                info = zipfile.ZipInfo(f"{split}_{name}.npy", date_time=_FIXED_TIME)
                info.compress_type = compression
                info.external_attr = 0o600 << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
    return buffer.getvalue()


def fetch(folder: Path, mirror: str | None = None) -> None:
    """Make sure the verified plain file is in its folder: download sketch-rnn's original, check
    it, convert it and delete it; a plain file already there is only verified.

    mirror: the base URL of a copy of the data folder's layout, tried instead of the public home:
    its omniglot/ may hold the plain file (as ../shared/data does) or the original."""
    plain = folder / PLAIN_FILE
    if plain.exists():
        _require_plain(plain)
        return
    advice = (
        f"Without network access, put {PLAIN_FILE} (or sketch-rnn's {ORIGINAL_FILE}) into "
        f"{folder.resolve()}, or point DIGIT_KNOWER_DATA_DIR at a data folder whose omniglot/ holds it."
    )
    if mirror and _fetch_plain(mirror_url(mirror, "omniglot", PLAIN_FILE), plain, advice):
        return
    original = folder / ORIGINAL_FILE
    if not original.exists():
        download_first([mirror_url(mirror, "omniglot", ORIGINAL_FILE)] if mirror else HOMES, original, advice)
    try:
        convert(original, plain, ORIGINAL_SHA256)
    finally:
        original.unlink(missing_ok=True)  # converted once; the pickled file is never read again


def _fetch_plain(url: str, plain: Path, advice: str) -> bool:
    """Download a mirror's plain file and verify it; False when the mirror has none."""
    try:
        download_verified([url], plain, advice, verify=_require_plain)
    except DownloadError:
        return False  # the mirror may hold the original instead
    return True


def _require_plain(path: Path) -> str:
    return require_sha256(path, PLAIN_SHA256.values(), f"the plain {PLAIN_FILE}")


def missing(folder: Path) -> list[str]:
    """The files of this set not in folder: the plain file (the original is never kept)."""
    return [] if (folder / PLAIN_FILE).exists() else [PLAIN_FILE]
