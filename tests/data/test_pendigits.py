"""UCI's pen-written digits: one checksum over the parsed rows serves UCI's file and the copy with a
header row; a wrong file is refused with a clear error; a missing one is downloaded and verified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data import pendigits
from digit_knower.data.download import DataError, DownloadError
from digit_knower.data.layout import set_dir
from digit_knower.data.pendigits import FILE, ROWS_SHA256
from tests.support.data import NO_NETWORK


@pytest.fixture
def real_file(data_dir: Path) -> Path:
    return set_dir(data_dir, "pendigits") / FILE


def as_uci_writes_it(rows: np.ndarray) -> str:
    """UCI's own layout: no header row, each number right-aligned in 3 columns, CRLF line ends."""
    return "".join(",".join(f"{value:>3}" for value in row) + "\r\n" for row in rows)


def test_the_real_file_loads_as_8_point_pen_paths_with_labels(data_dir: Path) -> None:
    digits = pendigits.load_pendigits(data_dir, download=False)
    assert digits.paths.shape == (7_494, 8, 2)
    assert digits.paths.dtype == np.float32
    assert digits.paths.min() == 0 and digits.paths.max() == 100
    assert digits.labels.dtype == np.uint8
    assert np.bincount(digits.labels).tolist() == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert digits.sha256 == ROWS_SHA256
    # The first row of UCI's file, an 8, as (x, y) points in pen order.
    assert digits.labels[0] == 8
    assert digits.paths[0, :3].tolist() == [[47, 100], [27, 81], [57, 37]]


def test_one_checksum_serves_the_file_with_and_without_its_header_row(
    real_file: Path, tmp_path: Path
) -> None:
    rows = pendigits.read_rows(real_file)
    uci = tmp_path / "uci" / FILE
    uci.parent.mkdir()
    uci.write_text(as_uci_writes_it(rows))
    copy = tmp_path / "copy" / FILE  # as the copy in ../shared/data: a header row, other spacing
    copy.parent.mkdir()
    header = ", ".join([f"c{i}" for i in range(1, 17)] + ["class"])
    copy.write_text("\n".join([header] + [", ".join(f"{value:>2}" for value in row) for row in rows]) + "\n")
    assert uci.read_bytes() != copy.read_bytes()
    for path in (uci, copy):
        assert np.array_equal(pendigits.read_rows(path), rows)
        assert pendigits.rows_sha256(pendigits.read_rows(path)) == ROWS_SHA256


def test_a_changed_value_is_refused_naming_the_file_both_checksums_and_the_remedy(
    real_file: Path, tmp_path: Path
) -> None:
    rows = pendigits.read_rows(real_file)
    rows[1234, 5] = (rows[1234, 5] + 1) % 101  # still a valid coordinate: only the checksum can tell
    spoilt = tmp_path / FILE
    spoilt.write_text(as_uci_writes_it(rows))
    with pytest.raises(DataError) as error:
        pendigits.read_rows(spoilt)
    message = str(error.value)
    assert message.startswith(f"{spoilt}: checksum mismatch: the SHA-256 of its 7494 parsed rows is ")
    assert f"expected {ROWS_SHA256}" in message
    assert "delete it and run `digit-knower data fetch pendigits`" in message


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"<html><body>Not Found</body></html>\n", r"row 1 is not 17 comma-separated integers"),
        (b"1,2,3\n", r"row 1 is not 17 comma-separated integers \(3 fields\)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"cannot be read as text"),
        (b"0," * (1 << 20), r"2097152 bytes, far more than UCI's pendigits.tra"),
    ],
    ids=["an error page", "short rows", "a binary file", "a huge file"],
)
def test_a_foreign_file_is_refused_before_any_row_is_used(tmp_path: Path, content: bytes, error: str) -> None:
    path = tmp_path / FILE
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"^{path}: .*{error}"):
        pendigits.read_rows(path)


def test_a_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"pendigits.tra: missing. Run `digit-knower data fetch pendigits`"):
        pendigits.load_pendigits(tmp_path, download=False)


def test_a_missing_file_is_downloaded_from_the_mirror_and_verified(mirror: str, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "pendigits"
    rows = pendigits.fetch(folder, mirror)
    assert pendigits.rows_sha256(rows) == ROWS_SHA256
    assert pendigits.load_pendigits(tmp_path / "data", download=False).paths.shape == (7_494, 8, 2)
    assert [p.name for p in folder.iterdir()] == [FILE], "nothing but the file is left behind"


def test_a_download_that_fails_verification_is_not_kept(
    mirror: str, mirror_root: Path, tmp_path: Path
) -> None:
    served = mirror_root / "pendigits" / FILE
    rows = pendigits.read_rows(served)
    rows[0, 1] = 99
    served.write_text(as_uci_writes_it(rows))
    folder = tmp_path / "pendigits"
    with pytest.raises(DataError, match="checksum mismatch"):
        pendigits.fetch(folder, mirror)
    assert not (folder / FILE).exists()


def test_without_network_the_error_says_where_to_put_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "pendigits"
    with pytest.raises(DownloadError) as error:
        pendigits.fetch(folder, NO_NETWORK)
    message = str(error.value)
    assert message.startswith(f"could not download {FILE} ({NO_NETWORK}pendigits/{FILE}: ")
    assert f"put UCI's {FILE} into {folder.resolve()}" in message
    assert not folder.exists() or not any(folder.iterdir()), "no partial download is left behind"
