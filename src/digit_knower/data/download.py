"""Downloads with a progress bar, and the checks every data set shares: its error, file checksums.

A download lands under a temporary name and takes its real name only once complete, so an
interrupted one never looks like a file that is there.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

# What a failed download raises: no answer, an HTTP error status, a cut connection, a bad URL.
DOWNLOAD_ERRORS = (OSError, urllib.error.URLError, http.client.HTTPException, ValueError)


class DataError(Exception):
    """A data file is missing, damaged or foreign, or cannot be downloaded. The message names the
    file and says what to do."""


class DownloadError(DataError):
    """None of a file's URLs answered with it."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def require_sha256(path: Path, expected: str | Collection[str], what: str) -> str:
    """The file's SHA-256 when it is one of the expected ones; else a DataError that names the file.
    Call it before anything parses the file."""
    accepted = (expected,) if isinstance(expected, str) else tuple(expected)
    digest = file_sha256(path)
    if digest not in accepted:
        raise DataError(
            f"{path}: checksum mismatch: its SHA-256 is {digest}, expected {' or '.join(accepted)}. "
            f"It is not {what}, or it is damaged: delete it and run `digit-knower data fetch` again."
        )
    return digest


def mirror_url(mirror: str, *parts: str) -> str:
    """The URL of a file in a mirror of the data folder's layout (mnist/, pendigits/, omniglot/)."""
    return "/".join([mirror.rstrip("/"), *parts])


@contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """A file to write that takes dest's name only once complete, and is deleted if writing fails."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(part, dest)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def download(url: str, dest: Path, timeout: float = 30.0) -> None:
    """Fetch url into dest with a progress bar; dest appears only once complete."""
    with atomic_file(dest) as f, urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            while chunk := response.read(1 << 16):
                f.write(chunk)
                bar.update(len(chunk))


def download_first(urls: Sequence[str], dest: Path, advice: str) -> str:
    """Fetch the first of urls that answers into dest; the URL it came from. When none answers, a
    DownloadError lists why each failed, then gives the advice (where to put the file by hand)."""
    errors = []
    for url in urls:
        try:
            download(url, dest)
            return url
        except DOWNLOAD_ERRORS as e:
            errors.append(f"{url}: {getattr(e, 'reason', None) or e}")
    raise DownloadError(f"could not download {dest.name} ({'; '.join(errors)}). {advice}")


def download_verified(urls: Sequence[str], dest: Path, advice: str, verify: Callable[[Path], T]) -> T:
    """download_first, then verify(dest) and return what it returns. A download that fails
    verification is deleted, so it is reported as bad and never taken for the real file later."""
    download_first(urls, dest, advice)
    try:
        return verify(dest)
    except DataError:
        dest.unlink(missing_ok=True)
        raise
