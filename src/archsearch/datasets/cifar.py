"""CIFAR-10: 50,000 train + 10,000 test 32x32 RGB images in 10 classes (Krizhevsky,
"Learning Multiple Layers of Features from Tiny Images", tech. report, 2009).

Two on-disk formats are read:

* the canonical binary version, `cifar-10-binary.tar.gz` or its extracted folder
  `cifar-10-batches-bin/`: records of 1 label byte + 3,072 pixel bytes (R, G, B planes
  of 32x32, row-major), five training batches and one test batch. It is also what a
  download fetches (no pickle involved, unlike the "python version");
* the JPEG `.npz` pair `cifar10_jpeg_{train,test}.npz` (arrays `jpeg`, `offsets`,
  `labels`): every image as its own JPEG file, concatenated. JPEG is lossy, so accuracies
  on it are for relative comparisons, not published CIFAR-10 numbers. Decoding needs
  Pillow (about 8 s for all 60,000 images on two cores).

Training on CIFAR uses the standard augmentation (random crop with 4-pixel padding and
horizontal flip), which the `Dataset` records with `augment=True`.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import torch

from archsearch.datasets.base import DATASETS, Dataset
from archsearch.datasets.sources import DatasetError, Remote, candidate_dirs, fetch

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
FOLDERS = ("cifar10", "cifar10-jpeg", "cifar-10", "CIFAR10")
_JPEG_FILES = ("cifar10_jpeg_train.npz", "cifar10_jpeg_test.npz")
_BIN_DIR = "cifar-10-batches-bin"
_BIN_TAR = "cifar-10-binary.tar.gz"
_BIN_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_BIN_TEST = "test_batch.bin"
_RECORD = 1 + 3 * 32 * 32
REMOTE = Remote(
    _BIN_TAR,
    ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
)


def parse_binary_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file: (N, 32, 32, 3) uint8 images and (N,) labels."""
    if len(data) % _RECORD:
        raise DatasetError(f"{where}: {len(data)} bytes is not a whole number of CIFAR records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    x = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), records[:, 0].astype(np.int64)


def read_binary(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The binary version from its folder or its .tar.gz: x_train, y_train, x_test, y_test."""
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        for name in (*_BIN_TRAIN, _BIN_TEST):
            blobs[name] = (path / name).read_bytes()
    else:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                base = Path(member.name).name
                if member.isfile() and base in (*_BIN_TRAIN, _BIN_TEST):
                    f = tar.extractfile(member)
                    if f is not None:
                        blobs[base] = f.read()
        missing = [n for n in (*_BIN_TRAIN, _BIN_TEST) if n not in blobs]
        if missing:
            raise DatasetError(f"{path}: archive lacks {', '.join(missing)}")
    train = [parse_binary_batch(blobs[n], f"{path}/{n}") for n in _BIN_TRAIN]
    x_test, y_test = parse_binary_batch(blobs[_BIN_TEST], f"{path}/{_BIN_TEST}")
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test


def decode_jpeg_npz(path: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) from a JPEG `.npz`; `limit` decodes
    only the first images."""
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            f"{path}: decoding CIFAR-10 JPEGs needs Pillow: pip install pillow"
        ) from None
    with np.load(path, allow_pickle=False) as z:
        if not {"jpeg", "offsets", "labels"} <= set(z.files):
            raise DatasetError(f"{path}: expected arrays jpeg, offsets, labels; found {z.files}")
        blob, offsets, labels = z["jpeg"].tobytes(), z["offsets"], z["labels"]
    n = len(offsets) - 1 if limit is None else min(limit, len(offsets) - 1)
    if len(labels) < n:
        raise DatasetError(f"{path}: {len(offsets) - 1} images but {len(labels)} labels")
    x = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        with Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]])) as im:
            rgb = im if im.mode == "RGB" else im.convert("RGB")
            if rgb.size != (32, 32):
                raise DatasetError(f"{path}: image {i} is {rgb.size[0]}x{rgb.size[1]}, not 32x32")
            x[i] = np.asarray(rgb)
    return x, labels[:n].astype(np.int64)


def _find(data_dir: str | os.PathLike[str] | None) -> tuple[str, Path] | None:
    """(format, path) of the first CIFAR-10 copy in the search order; within one folder
    the exact binary version wins over the lossy JPEG one."""
    for d in candidate_dirs(FOLDERS, data_dir):
        if all((d / _BIN_DIR / n).is_file() for n in (*_BIN_TRAIN, _BIN_TEST)):
            return "binary", d / _BIN_DIR
        if (d / _BIN_TAR).is_file():
            return "binary", d / _BIN_TAR
        if all((d / n).is_file() for n in _JPEG_FILES):
            return "jpeg", d
    return None


@DATASETS.register("cifar10")
def load_cifar10(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> Dataset:
    """CIFAR-10 from a local copy (binary or JPEG .npz), else the canonical binary tarball."""
    found = _find(data_dir)
    if found is None:
        (tar,) = fetch(
            "cifar10",
            FOLDERS,
            [REMOTE],
            data_dir,
            allow_download=download,
            alternatives=f"or its folder {_BIN_DIR}/, or {' and '.join(_JPEG_FILES)}",
        )
        found = ("binary", tar)
    fmt, path = found
    if fmt == "binary":
        x_train, y_train, x_test, y_test = read_binary(path)
        source = str(path)
    else:
        x_train, y_train = decode_jpeg_npz(path / _JPEG_FILES[0])
        x_test, y_test = decode_jpeg_npz(path / _JPEG_FILES[1])
        source = f"{path} (JPEG)"
    return Dataset(
        name="cifar10",
        x_train=torch.from_numpy(x_train).permute(0, 3, 1, 2).contiguous(),
        y_train=torch.from_numpy(y_train),
        x_test=torch.from_numpy(x_test).permute(0, 3, 1, 2).contiguous(),
        y_test=torch.from_numpy(y_test),
        num_classes=10,
        augment=True,
        source=source,
        class_names=CLASSES,
    )
