"""The in-memory `Dataset`, its seeded train/validation `Split`, and the loader registry.

A dataset is held as tensors: images (N, C, H, W), uint8 pixels or float32 values, and
int64 labels, with an official test set where the dataset has one. The validation set
is carved out of the training set by a seed (the study seed), so every trial of a study
sees the same split, and the split can be recorded (seed, sizes, a hash of the indices)
and re-created exactly.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from archsearch.core.genotype import TaskSpec
from archsearch.core.registry import Registry
from archsearch.datasets import transforms
from archsearch.datasets.sources import DatasetError


@dataclass(frozen=True, eq=False)
class Split:
    """A train/validation partition of a dataset's training set.

    `train` and `val` index the dataset's training arrays. `train` is in a seeded random
    order, so its first k indices are a random subset of size k (the "fraction of the
    training data" fidelity takes a prefix, the same one for every trial).
    """

    seed: int
    val_fraction: float
    train: torch.Tensor  # int64 indices
    val: torch.Tensor  # int64 indices, sorted

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of the validation indices: equal splits, equal print."""
        return hashlib.sha256(self.val.numpy().astype("<i8").tobytes()).hexdigest()[:16]

    def record(self, with_indices: bool = False) -> dict[str, Any]:
        """What to store with a study so the split is known and can be checked."""
        out: dict[str, Any] = {
            "seed": self.seed,
            "val_fraction": self.val_fraction,
            "n_train": len(self.train),
            "n_val": len(self.val),
            "val_sha256": self.fingerprint(),
        }
        if with_indices:
            out["val_indices"] = self.val.tolist()
        return out


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image-classification dataset in memory.

    `x_*` are (N, C, H, W) uint8 (pixels 0-255) or float32 tensors, `y_*` int64 labels in
    `0..num_classes-1`. `augment` says whether training uses the CIFAR augmentation
    (random crop with padding, horizontal flip). Treat the tensors as read-only: loaders
    cache datasets, so one object may serve many trials.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    num_classes: int = 0
    augment: bool = False
    source: str = ""
    class_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for part, x, y in (
            ("train", self.x_train, self.y_train),
            ("test", self.x_test, self.y_test),
        ):
            if x is None and y is None:
                continue
            if x is None or y is None:
                raise DatasetError(f"dataset {self.name!r}: {part} needs both images and labels")
            if x.ndim != 4:
                raise DatasetError(
                    f"dataset {self.name!r}: {part} images must be (N, C, H, W), "
                    f"got {tuple(x.shape)}"
                )
            if y.ndim != 1 or len(y) != len(x):
                raise DatasetError(
                    f"dataset {self.name!r}: {len(x)} {part} images but labels of shape "
                    f"{tuple(y.shape)}"
                )
            if x.dtype not in (torch.uint8, torch.float32):
                raise DatasetError(
                    f"dataset {self.name!r}: images must be uint8 or float32, not {x.dtype}"
                )
        if len(self.y_train) == 0:
            raise DatasetError(f"dataset {self.name!r}: the training set is empty")
        if self.x_test is not None and self.x_test.shape[1:] != self.x_train.shape[1:]:
            raise DatasetError(
                f"dataset {self.name!r}: test images {tuple(self.x_test.shape[1:])} differ "
                f"from train images {tuple(self.x_train.shape[1:])}"
            )
        high = int(self.y_train.max())
        if self.y_test is not None and len(self.y_test):
            high = max(high, int(self.y_test.max()))
        low = int(self.y_train.min())
        if low < 0:
            raise DatasetError(f"dataset {self.name!r}: labels must be >= 0, found {low}")
        if self.num_classes == 0:
            object.__setattr__(self, "num_classes", high + 1)
        elif high >= self.num_classes:
            raise DatasetError(
                f"dataset {self.name!r}: label {high} >= num_classes {self.num_classes}"
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.x_train.shape[1:]
        return (int(c), int(h), int(w))

    @property
    def has_test(self) -> bool:
        return self.x_test is not None

    def task(self, resolution: int | None = None) -> TaskSpec:
        """What a network for this dataset must fit (at `resolution`, if given)."""
        c, h, w = self.input_shape
        if resolution is not None:
            h = w = int(resolution)
        return TaskSpec(input_shape=(c, h, w), num_classes=self.num_classes)

    def split(self, seed: int = 0, val_fraction: float = 0.1) -> Split:
        """A stratified train/validation split of the training set, fixed by `seed`.

        Each class gives round(val_fraction * its count) images to validation (at least
        one when val_fraction > 0), so small datasets keep their class balance.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise DatasetError(f"val_fraction must be in [0, 1), got {val_fraction}")
        g = torch.Generator().manual_seed(int(seed))
        val_parts = []
        for c in range(self.num_classes):
            members = torch.nonzero(self.y_train == c).flatten()
            if len(members) == 0:
                continue
            k = round(val_fraction * len(members))
            if val_fraction > 0 and k == 0:
                k = 1
            k = min(k, len(members) - 1) if len(members) > 1 else 0
            val_parts.append(members[torch.randperm(len(members), generator=g)[:k]])
        val = torch.cat(val_parts).sort().values if val_parts else torch.zeros(0, dtype=torch.int64)
        in_val = torch.zeros(len(self.y_train), dtype=torch.bool)
        in_val[val] = True
        rest = torch.nonzero(~in_val).flatten()
        train = rest[torch.randperm(len(rest), generator=g)]
        return Split(seed=int(seed), val_fraction=float(val_fraction), train=train, val=val)

    def stats(self, indices: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std of the training images (only `indices`, if given), on
        the scale `transforms.to_float` gives (uint8 pixels as [0, 1])."""
        x = self.x_train if indices is None else self.x_train[indices]
        return transforms.channel_stats(x)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "train": len(self.y_train),
            "test": 0 if self.y_test is None else len(self.y_test),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "augment": self.augment,
            "source": self.source,
        }


Loader = Callable[..., Dataset]
DATASETS: Registry[Loader] = Registry("dataset")
_CACHE: dict[tuple[Any, ...], Dataset] = {}


def held_out_test(labels: np.ndarray, fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """A boolean mask of a fixed, stratified test split (`fraction` of each class), for
    datasets that come without one: their test accuracy then means the same in every
    study."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        is_test[rng.permutation(members)[: round(fraction * len(members))]] = True
    return is_test


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, cache: bool = True, **options: Any
) -> Dataset:
    """A registered dataset by name ("digits", "mnist", "fashion-mnist", "cifar10",
    "npz"), or a user's own arrays as "npz:PATH" or a path ending in `.npz`.

    Loaded datasets are kept in memory per (name, data_dir, ARCHSEARCH_DATA, options), so
    many trials in one process read the files once; `cache=False` reads them again.
    """
    if name.startswith("npz:"):
        options = {"path": name[4:], **options}
        name = "npz"
    elif name.endswith(".npz") and name not in DATASETS:
        options = {"path": name, **options}
        name = "npz"
    loader = DATASETS.get(name)
    key = (
        name,
        None if data_dir is None else str(data_dir),
        os.environ.get("ARCHSEARCH_DATA"),
        tuple(sorted((k, repr(v)) for k, v in options.items())),
    )
    if cache and key in _CACHE:
        return _CACHE[key]
    dataset = loader(data_dir=data_dir, **options)
    if cache:
        _CACHE[key] = dataset
    return dataset


def clear_cache() -> None:
    """Forget every dataset `load_dataset` kept in memory."""
    _CACHE.clear()
