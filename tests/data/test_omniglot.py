"""Omniglot strokes. The original holds pickles: its checksum is checked before anything reads it,
and only then is it loaded, once, and converted to the plain file. The plain file is checked
before it is loaded, and never with pickles allowed. Nothing else is ever unpickled."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digit_knower.data import omniglot
from digit_knower.data.download import DataError, DownloadError, file_sha256
from digit_knower.data.layout import set_dir
from digit_knower.data.omniglot import ORIGINAL_FILE, PLAIN_FILE, PLAIN_SHA256, Drawings
from tests.support.data import NO_NETWORK


class MakesADirectory:
    """Unpickling this runs os.mkdir(path): proof that a pickle was opened, and what one can do."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (self.path,)


@pytest.fixture
def real_plain(data_dir: Path) -> Path:
    return set_dir(data_dir, "omniglot") / PLAIN_FILE


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every np.load from here on: the file's name, and whether it allowed pickles."""
    calls: list[tuple[str, bool]] = []
    real_load = np.load

    def spy(file, *args, **kwargs):
        calls.append((Path(file).name, bool(kwargs.get("allow_pickle", False))))
        return real_load(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    return calls


def object_array(drawings: list[np.ndarray] | Drawings) -> np.ndarray:
    array = np.empty(len(drawings), dtype=object)
    for i in range(len(drawings)):
        array[i] = np.array(drawings[i], dtype=np.int16)
    return array


@pytest.fixture
def like_the_original(real_plain: Path, tmp_path: Path) -> Path:
    """A file in the original's form, made from the real drawings: pickled object arrays of (n, 3)
    int16 drawings, with a test split beside train and valid."""
    plain = omniglot.read_plain(real_plain)
    path = tmp_path / "original" / ORIGINAL_FILE
    path.parent.mkdir()
    np.savez(
        path,
        train=object_array(plain.train),
        valid=object_array(plain.valid),
        test=object_array([plain.valid[i] for i in range(5)]),
    )
    return path


@pytest.fixture
def booby_trapped(tmp_path: Path) -> tuple[Path, Path]:
    """A file shaped like the original whose pickles make a directory when they are opened; and
    that directory's path (absent as long as nothing unpickled the file)."""
    marker = tmp_path / "unpickled"
    trap = np.empty(1, dtype=object)
    trap[0] = MakesADirectory(marker)
    path = tmp_path / "foreign" / ORIGINAL_FILE
    path.parent.mkdir()
    np.savez(path, train=trap, valid=trap)
    return path, marker


def test_the_plain_file_loads_as_train_and_validation_drawings(
    real_plain: Path, loads: list[tuple[str, bool]]
) -> None:
    drawings = omniglot.read_plain(real_plain)
    assert (len(drawings.train), len(drawings.valid)) == (30_000, 1_000)
    for split in (drawings.train, drawings.valid):
        assert split.strokes.dtype == np.int16 and split.strokes.shape[1] == 3
        assert split.offsets[0] == 0 and split.offsets[-1] == len(split.strokes)
        assert (np.diff(split.offsets) > 0).all(), "no drawing is empty"
        assert set(np.unique(split.strokes[:, 2]).tolist()) == {0, 1}
    assert drawings.sha256 == file_sha256(real_plain)
    assert drawings.sha256 in PLAIN_SHA256.values()
    assert loads == [(PLAIN_FILE, False)]


def test_a_drawing_becomes_its_pen_strokes_in_absolute_points() -> None:
    # Down from (0, 0) to (0, 10), lift; then from (5, 0) down to (5, 5), lift; then a dot at (8, 8).
    rows = np.array([[0, 0, 0], [0, 10, 1], [5, -10, 0], [0, 5, 1], [3, 3, 1]], dtype=np.int16)
    drawings = Drawings(strokes=rows, offsets=np.array([0, 5], dtype=np.int64))
    assert len(drawings) == 1
    assert [stroke.tolist() for stroke in drawings.polylines(0)] == [
        [[0, 0], [0, 10]],
        [[5, 0], [5, 5]],
        [[8, 8]],
    ]
    with pytest.raises(IndexError):
        drawings[1]


def test_converting_the_original_gives_the_plain_files_exact_bytes(
    like_the_original: Path, real_plain: Path, tmp_path: Path, loads: list[tuple[str, bool]]
) -> None:
    converted = tmp_path / PLAIN_FILE
    omniglot.convert(like_the_original, converted, expected_sha256=file_sha256(like_the_original))
    assert file_sha256(converted) in PLAIN_SHA256.values()
    with zipfile.ZipFile(converted) as archive:
        assert archive.namelist() == [
            "train_strokes.npy",
            "train_offsets.npy",
            "valid_strokes.npy",
            "valid_offsets.npy",
        ], "the original's test split is left out"
    ours, theirs = omniglot.read_plain(converted), omniglot.read_plain(real_plain)
    for split in ("train", "valid"):
        assert np.array_equal(getattr(ours, split).strokes, getattr(theirs, split).strokes)
        assert np.array_equal(getattr(ours, split).offsets, getattr(theirs, split).offsets)
    assert loads[0] == (ORIGINAL_FILE, True), "the original is opened once, with pickles, after its check"
    assert all(not pickles for _, pickles in loads[1:])


def test_the_plain_file_is_known_both_deflated_and_stored(real_plain: Path, tmp_path: Path) -> None:
    plain = omniglot.read_plain(real_plain)
    splits = {
        split: (getattr(plain, split).strokes, getattr(plain, split).offsets) for split in ("train", "valid")
    }
    stored = tmp_path / PLAIN_FILE
    stored.write_bytes(omniglot.plain_bytes(splits, zipfile.ZIP_STORED))
    assert file_sha256(stored) == PLAIN_SHA256[zipfile.ZIP_STORED]
    assert np.array_equal(omniglot.read_plain(stored).train.strokes, plain.train.strokes)


def test_an_original_with_the_wrong_checksum_is_never_unpickled(
    booby_trapped: tuple[Path, Path], tmp_path: Path, loads: list[tuple[str, bool]]
) -> None:
    original, marker = booby_trapped
    with pytest.raises(DataError) as error:
        omniglot.convert(original, tmp_path / PLAIN_FILE)
    message = str(error.value)
    assert message.startswith(f"{original}: checksum mismatch: its SHA-256 is {file_sha256(original)}")
    assert f"expected {omniglot.ORIGINAL_SHA256}" in message
    assert f"It is not sketch-rnn's {ORIGINAL_FILE}" in message
    assert loads == [], "np.load never saw the file"
    assert not marker.exists(), "no pickle was opened"
    assert not (tmp_path / PLAIN_FILE).exists()


def test_the_checksum_is_what_keeps_the_pickles_shut(
    booby_trapped: tuple[Path, Path], tmp_path: Path, loads: list[tuple[str, bool]]
) -> None:
    # The same file with its own checksum expected: now it is unpickled, and its pickle runs.
    original, marker = booby_trapped
    with pytest.raises(DataError, match="not sketch-rnn's Omniglot stroke data"):
        omniglot.convert(original, tmp_path / PLAIN_FILE, expected_sha256=file_sha256(original))
    assert marker.is_dir()
    assert loads == [(ORIGINAL_FILE, True)]


def test_a_plain_file_that_is_not_the_known_one_is_refused_before_it_is_loaded(
    real_plain: Path, booby_trapped: tuple[Path, Path], tmp_path: Path, loads: list[tuple[str, bool]]
) -> None:
    spoilt = tmp_path / "spoilt" / PLAIN_FILE
    spoilt.parent.mkdir()
    content = bytearray(real_plain.read_bytes())
    content[len(content) // 2] ^= 1
    spoilt.write_bytes(bytes(content))
    with pytest.raises(
        DataError, match=rf"^{spoilt}: checksum mismatch: .* It is not the plain {PLAIN_FILE}"
    ):
        omniglot.read_plain(spoilt)
    trapped, marker = booby_trapped
    disguised = tmp_path / "disguised" / PLAIN_FILE
    disguised.parent.mkdir()
    shutil.copy(trapped, disguised)
    with pytest.raises(DataError, match="checksum mismatch"):
        omniglot.read_plain(disguised)
    assert loads == []
    assert not marker.exists()


def test_a_missing_plain_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"omniglot_strokes.npz: missing. Run `digit-knower data fetch omniglot`"
    ):
        omniglot.load_omniglot(tmp_path, download=False)


def test_the_original_is_downloaded_from_its_home_checked_converted_and_deleted(
    like_the_original: Path,
    home: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    loads: list[tuple[str, bool]],
) -> None:
    root, url = home
    shutil.copy(like_the_original, root / ORIGINAL_FILE)
    monkeypatch.setattr(omniglot, "HOMES", (NO_NETWORK + ORIGINAL_FILE, url + ORIGINAL_FILE))
    monkeypatch.setattr(omniglot, "ORIGINAL_SHA256", file_sha256(like_the_original))
    data = tmp_path / "data"
    drawings = omniglot.load_omniglot(data)
    assert (len(drawings.train), len(drawings.valid)) == (30_000, 1_000)
    assert drawings.sha256 in PLAIN_SHA256.values()
    assert [p.name for p in (data / "omniglot").iterdir()] == [PLAIN_FILE], "the original is not kept"
    assert [name for name, pickles in loads if pickles] == [ORIGINAL_FILE]


def test_a_foreign_original_from_the_home_is_refused_unread_and_not_kept(
    booby_trapped: tuple[Path, Path],
    home: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    loads: list[tuple[str, bool]],
) -> None:
    trapped, marker = booby_trapped
    root, url = home
    shutil.copy(trapped, root / ORIGINAL_FILE)
    monkeypatch.setattr(omniglot, "HOMES", (url + ORIGINAL_FILE,))
    folder = tmp_path / "data" / "omniglot"
    with pytest.raises(DataError, match="checksum mismatch"):
        omniglot.fetch(folder)
    assert loads == []
    assert not marker.exists()
    assert list(folder.iterdir()) == []


def test_a_mirror_with_the_plain_file_serves_it_verified_and_unpickled(
    mirror: str, tmp_path: Path, loads: list[tuple[str, bool]]
) -> None:
    folder = tmp_path / "omniglot"
    omniglot.fetch(folder, mirror)
    assert [p.name for p in folder.iterdir()] == [PLAIN_FILE]
    assert file_sha256(folder / PLAIN_FILE) in PLAIN_SHA256.values()
    assert loads == []


def test_a_mirror_with_only_the_original_has_it_converted(
    like_the_original: Path, home: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = home
    (root / "omniglot").mkdir()
    shutil.copy(like_the_original, root / "omniglot" / ORIGINAL_FILE)
    monkeypatch.setattr(omniglot, "ORIGINAL_SHA256", file_sha256(like_the_original))
    folder = tmp_path / "omniglot"
    omniglot.fetch(folder, url)
    assert [p.name for p in folder.iterdir()] == [PLAIN_FILE]


def test_without_network_the_error_says_where_to_put_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "omniglot"
    with pytest.raises(DownloadError) as error:
        omniglot.fetch(folder, NO_NETWORK)
    message = str(error.value)
    assert message.startswith(f"could not download {ORIGINAL_FILE} ({NO_NETWORK}omniglot/{ORIGINAL_FILE}: ")
    assert f"put {PLAIN_FILE} (or sketch-rnn's {ORIGINAL_FILE}) into {folder.resolve()}" in message
