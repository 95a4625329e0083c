"""The MNIST IDX reader: real files load (gzipped or raw); each kind of damage gets its own clear error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from digit_knower.data import mnist as data
from digit_knower.data.mnist import TEST_IMAGES, TEST_LABELS, DataError
from tests.support.data import NO_NETWORK


def write_idx(path: Path, magic: int, dims: list[int], body: bytes) -> Path:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    payload = header + body
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def real_payload(mnist_dir: Path, name: str) -> bytes:
    return data.read_payload(data.find_file(mnist_dir, name))


def test_reads_the_real_gzipped_test_split_and_verifies_it(mnist_dir: Path) -> None:
    test = data.load_test(mnist_dir, download=False)
    assert test.images.shape == (10_000, 28, 28)
    assert test.images.dtype == np.uint8
    assert test.labels.shape == (10_000,)
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_reads_raw_files_the_same_as_gzipped(mnist_dir: Path, tmp_path: Path) -> None:
    for name in (TEST_IMAGES, TEST_LABELS):
        (tmp_path / name).write_bytes(real_payload(mnist_dir, name))
    raw = data.load_test(tmp_path, download=False)
    gz = data.load_test(mnist_dir, download=False)
    assert np.array_equal(raw.images, gz.images)
    assert np.array_equal(raw.labels, gz.labels)


def test_valid_synthetic_files_parse_gz_and_raw(tmp_path: Path) -> None:
    pixels = np.arange(3 * 28 * 28, dtype=np.uint8)
    for suffix in ("", ".gz"):
        path = write_idx(tmp_path / f"x-images{suffix}", data.IMAGES_MAGIC, [3, 28, 28], pixels.tobytes())
        images = data.parse_idx(data.read_payload(path), str(path), images=True)
        assert np.array_equal(images, pixels.reshape(3, 28, 28))


def test_a_truncated_file_is_named_and_called_truncated(mnist_dir: Path, tmp_path: Path) -> None:
    payload = real_payload(mnist_dir, TEST_LABELS)
    (tmp_path / TEST_LABELS).write_bytes(payload[:5000])
    with pytest.raises(
        DataError, match=rf"{TEST_LABELS}: truncated: the header promises 10000 bytes.*found 4992"
    ):
        data.load_file(tmp_path, TEST_LABELS)


def test_a_file_cut_inside_its_header_is_truncated(tmp_path: Path) -> None:
    (tmp_path / TEST_IMAGES).write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(
        DataError, match=rf"{TEST_IMAGES}: truncated: 5 bytes, shorter than the 16-byte header"
    ):
        data.load_file(tmp_path, TEST_IMAGES)


def test_a_wrong_magic_number_says_it_is_not_an_mnist_file(mnist_dir: Path, tmp_path: Path) -> None:
    # A label file where an image file belongs: a foreign file for this name.
    (tmp_path / TEST_IMAGES).write_bytes(real_payload(mnist_dir, TEST_LABELS))
    with pytest.raises(DataError, match=r"wrong magic number 0x00000801 \(expected 0x00000803\)"):
        data.load_file(tmp_path, TEST_IMAGES)


def test_images_of_the_wrong_size_are_refused(tmp_path: Path) -> None:
    write_idx(tmp_path / TEST_IMAGES, data.IMAGES_MAGIC, [2, 32, 32], bytes(2 * 32 * 32))
    with pytest.raises(DataError, match="images are 32x32, expected 28x28"):
        data.load_file(tmp_path, TEST_IMAGES)


def test_a_count_mismatch_with_mnist_is_reported(tmp_path: Path) -> None:
    write_idx(tmp_path / TEST_LABELS, data.LABELS_MAGIC, [9_999], bytes(9_999))
    with pytest.raises(DataError, match=rf"{TEST_LABELS}: holds 9999 items, expected 10000"):
        data.load_file(tmp_path, TEST_LABELS)


def test_trailing_bytes_are_reported(mnist_dir: Path, tmp_path: Path) -> None:
    (tmp_path / TEST_LABELS).write_bytes(real_payload(mnist_dir, TEST_LABELS) + b"\x00\x00")
    with pytest.raises(DataError, match="has trailing bytes"):
        data.load_file(tmp_path, TEST_LABELS)


def test_a_checksum_mismatch_names_the_file_and_both_hashes(mnist_dir: Path, tmp_path: Path) -> None:
    payload = bytearray(real_payload(mnist_dir, TEST_LABELS))
    payload[-1] = (payload[-1] + 1) % 10  # still a valid digit: only the checksum can tell
    (tmp_path / f"{TEST_LABELS}.gz").write_bytes(gzip.compress(bytes(payload)))
    with pytest.raises(
        DataError, match=rf"{TEST_LABELS}.gz: checksum mismatch.*expected {data.SHA256[TEST_LABELS]}"
    ):
        data.load_file(tmp_path, TEST_LABELS)


def test_a_damaged_gzip_archive_is_reported(tmp_path: Path) -> None:
    (tmp_path / f"{TEST_LABELS}.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match=rf"{TEST_LABELS}.gz: cannot be read as gzip"):
        data.load_file(tmp_path, TEST_LABELS)


def test_images_and_labels_of_different_lengths_are_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(data.EXPECTED_COUNT, TEST_IMAGES, 2)
    monkeypatch.setitem(data.EXPECTED_COUNT, TEST_LABELS, 3)
    write_idx(tmp_path / TEST_IMAGES, data.IMAGES_MAGIC, [2, 28, 28], bytes(2 * 784))
    write_idx(tmp_path / TEST_LABELS, data.LABELS_MAGIC, [3], bytes(3))
    with pytest.raises(DataError, match="2 images but 3 labels"):
        data.load_split(tmp_path, TEST_IMAGES, TEST_LABELS, verify=False)


def test_without_network_the_error_says_where_to_put_the_files(tmp_path: Path) -> None:
    target = tmp_path / "mnist"
    with pytest.raises(DataError) as error:
        data.ensure_downloaded(target, mirrors=(NO_NETWORK,))
    message = str(error.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert f"into {target.resolve()}" in message
    assert "--data-dir / DIGIT_KNOWER_DATA_DIR" in message
    assert all(f"{name}.gz" in message for name in data.FILES)


def test_missing_files_are_downloaded_from_the_next_mirror_and_verified(mirror: str, tmp_path: Path) -> None:
    target = tmp_path / "downloaded"
    data.ensure_downloaded(target, names=(TEST_LABELS,), mirrors=(NO_NETWORK, mirror + "mnist/"))
    assert data.load_file(target, TEST_LABELS).shape == (10_000,)
    assert not list(target.glob("*.part")), "no partial download is left behind"


def test_a_download_that_fails_verification_is_not_kept(
    mirror: str, mirror_root: Path, tmp_path: Path
) -> None:
    served = mirror_root / "mnist" / f"{TEST_LABELS}.gz"
    payload = bytearray(gzip.decompress(served.read_bytes()))
    payload[100] = (payload[100] + 1) % 10
    served.write_bytes(gzip.compress(bytes(payload)))
    target = tmp_path / "downloaded"
    with pytest.raises(DataError, match="checksum mismatch"):
        data.ensure_downloaded(target, names=(TEST_LABELS,), mirrors=(mirror + "mnist/",))
    assert not (target / f"{TEST_LABELS}.gz").exists()
