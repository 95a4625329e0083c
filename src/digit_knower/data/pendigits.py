"""UCI's pen-based handwritten digits (training writers): read, verify, download.

`pendigits.tra` holds 7,494 digits by 30 writers, one a row: `x1, y1, ..., x8, y8, class`, each
pen path resampled to 8 points in pen order, scaled to 0-100 with y growing upward. UCI's own file
has no header row; the copy in ../shared/data has one. So the checksum is of the parsed rows, not
of the file's bytes: one checksum serves both. Parsing integers from text runs no code of the
file's, so it is safe to parse before the checksum is known.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digit_knower.data.download import DataError, download_verified, mirror_url
from digit_knower.data.layout import set_dir

FILE = "pendigits.tra"
HOMES = ("https://archive.ics.uci.edu/ml/machine-learning-databases/pendigits/pendigits.tra",)
POINTS = 8
COLUMNS = 2 * POINTS + 1
ROW_COUNT = 7_494
MAX_BYTES = 1 << 20  # UCI's file is about 0.5 MB, with or without the header row
# SHA-256 of the parsed rows as little-endian int16, row after row (see `rows_sha256`).
ROWS_SHA256 = "8369b863ab4feaf2ee685c8dd11e783449277fbdeb79a5df8330ee8a310c22b6"


@dataclass(frozen=True)
class PenDigits:
    """The pen-written digits, verified.

    paths: (N, 8, 2) float32, each digit's 8 pen points in pen order as (x, y): x grows to the
    right, y grows *upward* (as on the tablet), both 0-100. labels: (N,) uint8, the digit 0-9.
    sha256: the checksum of the parsed rows (`ROWS_SHA256`).
    """

    paths: np.ndarray
    labels: np.ndarray
    sha256: str


def parse_rows(text: str, source: str) -> np.ndarray:
    """The rows of a pen-digits file as an (N, 17) int64 array. A first row of 17 names, no number
    among them, is a header and is skipped; any other row that is not 17 integers is a DataError."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and _is_header(lines[0]):
        lines = lines[1:]
    rows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split(",")
        try:
            if len(fields) != COLUMNS:
                raise ValueError(f"{len(fields)} fields")
            rows.append([int(field) for field in fields])
        except ValueError as e:
            raise DataError(
                f"{source}: row {number} is not {COLUMNS} comma-separated integers ({e}): not UCI's "
                f"pen-digits file. Delete it and run `digit-knower data fetch pendigits`."
            ) from e
    return np.array(rows, dtype=np.int64).reshape(-1, COLUMNS)


def _is_header(line: str) -> bool:
    fields = [field.strip() for field in line.split(",")]
    return len(fields) == COLUMNS and not any(field.lstrip("-").isdigit() for field in fields)


def rows_sha256(rows: np.ndarray) -> str:
    """The SHA-256 of parsed rows, whatever the file's spacing, line ends or header row."""
    return hashlib.sha256(np.ascontiguousarray(rows, dtype="<i2").tobytes()).hexdigest()


def read_rows(path: Path, expected_sha256: str = ROWS_SHA256) -> np.ndarray:
    """The verified rows of a pen-digits file; a DataError naming the file when it is missing,
    unreadable or not the expected rows."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:  # refused unread: far larger than the file can be
            raise DataError(
                f"{path}: {size} bytes, far more than UCI's {FILE} (about 0.5 MB): another file. "
                "Delete it and run `digit-knower data fetch pendigits`."
            )
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as e:
        raise DataError(
            f"{path}: missing. Run `digit-knower data fetch pendigits`, or put UCI's {FILE} there."
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot be read as text ({e}). Delete it and fetch it again.") from e
    rows = parse_rows(text, str(path))
    digest = rows_sha256(rows)
    if digest != expected_sha256:
        raise DataError(
            f"{path}: checksum mismatch: the SHA-256 of its {len(rows)} parsed rows is {digest}, "
            f"expected {expected_sha256} ({ROW_COUNT} rows of UCI's training file). The file is "
            "damaged or another one: delete it and run `digit-knower data fetch pendigits`."
        )
    return rows


def load_pendigits(data_dir: Path, *, download: bool = True) -> PenDigits:
    """The pen-written digits from the data folder, verified, downloading them first if needed."""
    folder = set_dir(data_dir, "pendigits")
    rows = fetch(folder) if download else read_rows(folder / FILE)
    paths = rows[:, : 2 * POINTS].reshape(-1, POINTS, 2).astype(np.float32)
    return PenDigits(paths=paths, labels=rows[:, -1].astype(np.uint8), sha256=ROWS_SHA256)


def fetch(folder: Path, mirror: str | None = None) -> np.ndarray:
    """Download the file into its folder when it is missing, then verify it; the verified rows. A
    download that fails verification is not kept.

    mirror: the base URL of a copy of the data folder's layout (pendigits/pendigits.tra), tried
    instead of UCI."""
    path = folder / FILE
    if path.exists():
        return read_rows(path)
    return download_verified(
        [mirror_url(mirror, "pendigits", FILE)] if mirror else HOMES,
        path,
        advice=f"Without network access, put UCI's {FILE} into {folder.resolve()}, or point "
        "DIGIT_KNOWER_DATA_DIR at a data folder whose pendigits/ holds it.",
        verify=read_rows,
    )


def missing(folder: Path) -> list[str]:
    """The files of this set not in folder."""
    return [] if (folder / FILE).exists() else [FILE]
