"""MNIST and Fashion-MNIST, read from LeCun's IDX files (gzip-compressed or not).

MNIST: LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
Recognition" (Proc. IEEE 1998). Fashion-MNIST: Xiao, Rasul & Vollgraf, "Fashion-MNIST:
a Novel Image Dataset for Benchmarking Machine Learning Algorithms" (arXiv:1708.07747,
2017); Debian packages it as `dataset-fashion-mnist` under /usr/share/datasets/. Both
are 60,000 train + 10,000 test 28x28 uint8 images in 10 classes, with the same file names.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from archsearch.datasets.base import DATASETS, Dataset
from archsearch.datasets.sources import (
    DatasetError,
    Remote,
    candidate_dirs,
    fetch,
    find_file,
    read_idx,
)

_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# SHA-256 of the canonical gzip files (those the mirrors serve byte for byte).
_MNIST_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
_MNIST_SHA256 = (
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
)
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_FASHION_SHA256 = (
    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
)
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def _remotes(mirrors: tuple[str, ...], sha256: tuple[str, ...]) -> list[Remote]:
    return [
        Remote(f"{name}.gz", tuple(m + f"{name}.gz" for m in mirrors), digest)
        for name, digest in zip(_FILES, sha256, strict=True)
    ]


def _locate(folders: tuple[str, ...], data_dir: str | os.PathLike[str] | None) -> list[Path] | None:
    """The four files from the first folder that holds all of them (.gz or not)."""
    for d in candidate_dirs(folders, data_dir):
        paths = [find_file(d, (f"{name}.gz", name)) for name in _FILES]
        if all(p is not None for p in paths):
            return [p for p in paths if p is not None]
    return None


def load_idx_dataset(
    name: str,
    folders: tuple[str, ...],
    remotes: list[Remote],
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    class_names: tuple[str, ...],
) -> Dataset:
    """A dataset in the four-file IDX layout, from the first place that has it."""
    paths = _locate(folders, data_dir) or fetch(
        name, folders, remotes, data_dir, allow_download=download
    )
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    for what, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or x.dtype != np.uint8:
            raise DatasetError(
                f"dataset {name!r} in {paths[0].parent}: {what} images {x.shape} {x.dtype} "
                f"and labels {y.shape} do not form an IDX image set"
            )
    return Dataset(
        name=name,
        x_train=torch.from_numpy(x_train).unsqueeze(1),
        y_train=torch.from_numpy(y_train.astype(np.int64)),
        x_test=torch.from_numpy(x_test).unsqueeze(1),
        y_test=torch.from_numpy(y_test.astype(np.int64)),
        num_classes=10,
        source=str(paths[0].parent),
        class_names=class_names,
    )


@DATASETS.register("mnist")
def load_mnist(data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> Dataset:
    """MNIST, 60,000 + 10,000 28x28 greyscale digits."""
    return load_idx_dataset(
        "mnist",
        ("mnist", "MNIST"),
        _remotes(_MNIST_MIRRORS, _MNIST_SHA256),
        data_dir,
        download,
        tuple(str(i) for i in range(10)),
    )


@DATASETS.register("fashion-mnist")
def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> Dataset:
    """Fashion-MNIST, 60,000 + 10,000 28x28 greyscale clothing images."""
    return load_idx_dataset(
        "fashion-mnist",
        ("fashion-mnist", "fashion_mnist", "FashionMNIST"),
        _remotes(_FASHION_MIRRORS, _FASHION_SHA256),
        data_dir,
        download,
        FASHION_CLASSES,
    )
