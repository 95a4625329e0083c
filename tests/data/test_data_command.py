"""`digit-knower data fetch` and `digit-knower data where`, through the real command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digit_knower.cli import main
from digit_knower.data.layout import DATA_SETS
from digit_knower.data.mnist import load_test
from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import load_pendigits
from tests.support.data import NO_NETWORK, REPO_ROOT


def test_fetch_help_says_what_it_downloads_and_how_it_checks_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["data", "fetch", "--help"])
    assert exit.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: digit-knower data fetch [-h] [--to DIR] [--mirror URL] [SET ...]")
    for words in [
        "which sets: mnist, pendigits, omniglot (default: all)",
        "with a progress bar, and verify its SHA-256",
        "the pen digits from UCI (the checksum of the parsed rows)",
        "checked before anything reads it, converted once to a plain file",
        "--to DIR, --data-dir DIR the data folder to fill (env DIGIT_KNOWER_DATA_DIR)",
        "Exit status 0 when every set is in place and verified, 1 when",
    ]:
        assert words in text


def test_fetch_fills_an_empty_data_folder_from_a_mirror_and_then_needs_no_network(
    mirror: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "data"
    assert main(["data", "fetch", "--to", str(target), "--mirror", mirror]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{name}: verified in {target / name}" for name in DATA_SETS]
    assert "100%" in err, "a progress bar shows each download"
    assert load_test(target, download=False).labels.shape == (10_000,)
    assert load_pendigits(target, download=False).paths.shape == (7_494, 8, 2)
    assert len(load_omniglot(target, download=False).train) == 30_000
    # Everything is there: a second fetch only verifies, with no network at all.
    assert main(["data", "fetch", "--to", str(target), "--mirror", NO_NETWORK]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{name}: verified in {target / name}" for name in DATA_SETS
    ]


def test_a_set_that_cannot_be_fetched_fails_saying_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "data"
    assert main(["data", "fetch", "pendigits", "--to", str(target), "--mirror", NO_NETWORK]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "digit-knower data fetch: pendigits: could not download pendigits.tra" in err
    assert f"put UCI's pendigits.tra into {(target / 'pendigits').resolve()}" in err
    assert err.rstrip().endswith("digit-knower data fetch: not in place: pendigits")


def test_an_unknown_set_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["data", "fetch", "emnist"])
    assert exit.value.code == 2
    assert (
        "argument SET: unknown set 'emnist' (choose from mnist, pendigits, omniglot)"
        in capsys.readouterr().err
    )


def test_where_names_each_sets_folder_and_how_to_get_a_missing_one(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "where", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"data folder: {data_dir}\n")
    assert "missing" not in out and out.count(" present ") == 3
    assert main(["data", "where", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"  pendigits  missing  {tmp_path / 'pendigits'}\n" in out
    assert "no omniglot_strokes.npz: run `digit-knower data fetch omniglot`" in out


def test_the_command_imports_nothing_heavy_until_it_runs() -> None:
    probe = (
        "import sys, digit_knower.data.data_command; "
        "print(sorted(m for m in ('numpy', 'tqdm', 'digit_knower.data.sources') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
