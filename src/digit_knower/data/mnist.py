"""MNIST IDX files: read them (gzipped or raw), verify them, and download them when missing.

Only numpy here, never torch: `digit-knower evaluate` runs with ONNX Runtime alone.
The checksums are of the *uncompressed* payloads, because the archives in a mirror (or in
../shared/data/mnist) may be recompressed while the digits inside stay byte-identical.
`load_test` and `load_mnist` take the data folder (see `layout`); the other functions take the
MNIST folder itself.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digit_knower.data.download import DataError, download_verified, mirror_url
from digit_knower.data.layout import set_dir

# Mirrors tried in order; each holds the four classic `.gz` archives.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# SHA-256 of the uncompressed IDX payloads (as listed in ../shared/data/mnist/SHA256SUMS).
SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# IDX magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
EXPECTED_COUNT = {TRAIN_IMAGES: 60_000, TRAIN_LABELS: 60_000, TEST_IMAGES: 10_000, TEST_LABELS: 10_000}


@dataclass(frozen=True)
class Split:
    """One MNIST split held in memory: images (N, 28, 28) uint8, white ink on black; labels (N,) uint8."""

    images: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Mnist:
    train: Split
    test: Split
    sha256: dict[str, str]


def read_payload(path: Path) -> bytes:
    """The uncompressed bytes of an IDX file, whether it is stored as `.gz` or raw."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(
            f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'a file'}: {e}"
        ) from e


def parse_idx(payload: bytes, name: str, *, images: bool) -> np.ndarray:
    """Parse an IDX payload, checking the magic number, the dimensions and that the data is complete."""
    magic, ndim = (IMAGES_MAGIC, 3) if images else (LABELS_MAGIC, 1)
    header_size = 4 + 4 * ndim
    if len(payload) < header_size:
        raise DataError(
            f"{name}: truncated: {len(payload)} bytes, shorter than the {header_size}-byte header"
        )
    found = int.from_bytes(payload[:4], "big")
    if found != magic:
        raise DataError(
            f"{name}: wrong magic number 0x{found:08x} (expected 0x{magic:08x}): "
            f"not an MNIST {'image' if images else 'label'} file"
        )
    dims = [int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if images and dims[1:] != [28, 28]:
        raise DataError(f"{name}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected = int(np.prod(dims))
    body = len(payload) - header_size
    if body != expected:
        what = "truncated" if body < expected else "has trailing bytes"
        raise DataError(f"{name}: {what}: the header promises {expected} bytes of data, found {body}")
    return np.frombuffer(payload, dtype=np.uint8, offset=header_size).reshape(dims)


def find_file(data_dir: Path, name: str) -> Path | None:
    """The raw or gzipped file for `name` in data_dir, raw first."""
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def load_file(data_dir: Path, name: str, *, verify: bool = True) -> np.ndarray:
    path = find_file(data_dir, name)
    if path is None:
        raise DataError(f"{data_dir}: {name}(.gz) is missing")
    payload = read_payload(path)
    array = parse_idx(payload, str(path), images="images" in name)
    if len(array) != EXPECTED_COUNT[name]:
        raise DataError(f"{path}: holds {len(array)} items, expected {EXPECTED_COUNT[name]}")
    if verify:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != SHA256[name]:
            raise DataError(
                f"{path}: checksum mismatch: SHA-256 of the uncompressed data is {digest}, "
                f"expected {SHA256[name]}. The file is damaged or not the real MNIST; delete it "
                "and run again to download it."
            )
    return array


def load_split(data_dir: Path, images_name: str, labels_name: str, *, verify: bool = True) -> Split:
    images = load_file(data_dir, images_name, verify=verify)
    labels = load_file(data_dir, labels_name, verify=verify)
    if len(images) != len(labels):
        raise DataError(f"{data_dir}: {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{data_dir / labels_name}: label {labels.max()} is not a digit 0-9")
    return Split(images, labels)


def load_test(data_dir: Path, *, download: bool = True) -> Split:
    """The 10,000 test images and labels (verified) from the data folder, downloading them first if
    needed."""
    folder = set_dir(data_dir, "mnist")
    if download:
        ensure_downloaded(folder, names=(TEST_IMAGES, TEST_LABELS))
    return load_split(folder, TEST_IMAGES, TEST_LABELS)


def load_mnist(data_dir: Path, *, download: bool = True) -> Mnist:
    """All of MNIST from the data folder, verified, as uint8 numpy arrays, downloading missing files
    first."""
    folder = set_dir(data_dir, "mnist")
    if download:
        ensure_downloaded(folder)
    return Mnist(
        train=load_split(folder, TRAIN_IMAGES, TRAIN_LABELS),
        test=load_split(folder, TEST_IMAGES, TEST_LABELS),
        sha256=dict(SHA256),
    )


def fetch(folder: Path, mirror: str | None = None) -> None:
    """Download what is missing of MNIST into its folder, then verify all four files.

    mirror: the base URL of a copy of the data folder's layout (its mnist/ holds the `.gz` files),
    tried instead of the public mirrors."""
    ensure_downloaded(folder, mirrors=(mirror_url(mirror, "mnist", ""),) if mirror else None)
    for name in FILES:
        load_file(folder, name)


def ensure_downloaded(
    data_dir: Path, names: tuple[str, ...] = FILES, mirrors: tuple[str, ...] | None = None
) -> None:
    """Download each missing file into the MNIST folder from the first mirror that answers; if none
    does, say where to put it."""
    mirrors = mirrors or MIRRORS
    for name in [name for name in names if find_file(data_dir, name) is None]:
        # Verified at once, so a bad download is reported as such and not kept.
        download_verified(
            [mirror + name + ".gz" for mirror in mirrors],
            data_dir / f"{name}.gz",
            advice=f"Without network access, put the four MNIST files "
            f"({', '.join(f + '.gz' for f in FILES)}; gzipped or raw) into {data_dir.resolve()}, "
            "or point --data-dir / DIGIT_KNOWER_DATA_DIR at the folder that holds them.",
            verify=_verify_download,
        )


def _verify_download(archive: Path) -> np.ndarray:
    """Verify a downloaded `NAME.gz` as the MNIST file NAME."""
    return load_file(archive.parent, archive.name.removesuffix(".gz"))


def missing(folder: Path) -> list[str]:
    """The MNIST files not in folder (each may lie raw or gzipped)."""
    return [f"{name}(.gz)" for name in FILES if find_file(folder, name) is None]
