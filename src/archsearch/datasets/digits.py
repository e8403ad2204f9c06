"""scikit-learn's digits: 1,797 8x8 greyscale images of handwritten digits, 10 classes.

The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak, 1998),
bundled inside scikit-learn, so it loads anywhere without files or network: the tiny
default for smoke tests and examples. Pixel values are counts 0-16; they are kept as
float32 in [0, 1].
"""

from __future__ import annotations

import os

import numpy as np
import torch

from archsearch.datasets.base import DATASETS, Dataset, held_out_test
from archsearch.datasets.sources import DatasetError

#: digits has no official test split; this one is fixed for good (seed and fraction),
#: so a test accuracy on digits means the same thing in every study.
TEST_FRACTION = 0.2
TEST_SEED = 0


@DATASETS.register("digits")
def load_digits(data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """sklearn digits with a fixed, stratified 80/20 train/test split (1,438 / 359)."""
    del data_dir  # bundled with scikit-learn: no files to find
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a core dependency here
        raise DatasetError(
            "dataset 'digits' needs scikit-learn: pip install scikit-learn"
        ) from None
    bunch = sk_load_digits()
    x = np.asarray(bunch.images, dtype=np.float32)[:, None] / 16.0  # (N, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    is_test = held_out_test(y, TEST_FRACTION, TEST_SEED)
    return Dataset(
        name="digits",
        x_train=torch.from_numpy(x[~is_test]),
        y_train=torch.from_numpy(y[~is_test]),
        x_test=torch.from_numpy(x[is_test]),
        y_test=torch.from_numpy(y[is_test]),
        num_classes=10,
        source="sklearn.datasets.load_digits",
        class_names=tuple(str(i) for i in range(10)),
    )
