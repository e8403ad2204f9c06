"""A user's own image-classification data as a NumPy `.npz` file.

Required arrays: `x`, the images, shaped (N, H, W) (one channel), (N, H, W, C) or
(N, C, H, W); and `y`, N integer labels from 0. Optional: `x_test` and `y_test` in the
same layout, the held-out test set. The names `x_train` and `y_train` are accepted for
`x` and `y` (Keras' `mnist.npz` and similar files use them). uint8 images are read as
pixels 0-255; any other numeric type becomes float32 as it is. The file is opened with
`allow_pickle=False`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from archsearch.datasets.base import DATASETS, Dataset, held_out_test
from archsearch.datasets.sources import DatasetError

_CHANNELS = (1, 2, 3, 4)


def _layout(shape: tuple[int, ...], layout: str, where: str) -> str:
    """'nchw' or 'nhwc' for a 4-d array: a small last axis means channels-last."""
    if layout in ("nchw", "nhwc"):
        return layout
    if layout != "auto":
        raise DatasetError(f"{where}: layout must be 'auto', 'nchw' or 'nhwc', not {layout!r}")
    if shape[3] in _CHANNELS:
        return "nhwc"
    if shape[1] in _CHANNELS:
        return "nchw"
    raise DatasetError(
        f"{where}: cannot tell the channel axis of shape {shape}; pass layout='nchw' or 'nhwc'"
    )


def _images(x: np.ndarray, layout: str, where: str) -> torch.Tensor:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if _layout(x.shape, layout, where) == "nhwc":
            x = x.transpose(0, 3, 1, 2)
    else:
        raise DatasetError(
            f"{where}: images must be (N,H,W), (N,H,W,C) or (N,C,H,W); got {x.shape}"
        )
    if x.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(x))
    if not (np.issubdtype(x.dtype, np.number) and not np.iscomplexobj(x)):
        raise DatasetError(f"{where}: images must be numeric, not {x.dtype}")
    out = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(out).all():
        raise DatasetError(f"{where}: images contain NaN or infinite values")
    return torch.from_numpy(out)


def _labels(y: np.ndarray, where: str) -> torch.Tensor:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{where}: labels must be a 1-d integer array, got {y.shape} {y.dtype}")
    return torch.from_numpy(y.astype(np.int64))


@DATASETS.register("npz")
def load_npz(
    path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    layout: str = "auto",
    augment: bool = False,
    num_classes: int = 0,
) -> Dataset:
    """A dataset from `path` (relative paths are looked up in `data_dir` first, if given).

    Without `x_test`/`y_test` arrays, a fixed stratified 20% of `x`/`y` is held out as
    the test split. `augment=True` turns on the CIFAR-style crop-and-flip augmentation for training;
    `num_classes` defaults to the largest label + 1.
    """
    if path is None:
        raise DatasetError("dataset 'npz' needs a path: the .npz file with arrays x and y")
    file = Path(path).expanduser()
    if not file.is_absolute() and data_dir is not None and (Path(data_dir) / file).is_file():
        file = Path(data_dir) / file
    if not file.is_file():
        raise DatasetError(f"dataset file {file} not found")
    try:
        with np.load(file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DatasetError(f"{file}: cannot read as .npz ({e})") from None
    for short in ("x", "y"):
        if short not in arrays and f"{short}_train" in arrays:
            arrays[short] = arrays[f"{short}_train"]
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DatasetError(f"{file}: missing array(s) {', '.join(missing)}; found {sorted(arrays)}")
    has_test = "x_test" in arrays or "y_test" in arrays
    if has_test and not ("x_test" in arrays and "y_test" in arrays):
        raise DatasetError(f"{file}: give both x_test and y_test, or neither")
    x, y = _images(arrays["x"], layout, f"{file} x"), _labels(arrays["y"], f"{file} y")
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    if has_test:
        x_test = _images(arrays["x_test"], layout, f"{file} x_test")
        y_test = _labels(arrays["y_test"], f"{file} y_test")
    else:  # no test arrays: hold out a fixed, stratified 20% (as for digits)
        is_test = torch.from_numpy(held_out_test(y.numpy()))
        if is_test.any():
            x, y, x_test, y_test = x[~is_test], y[~is_test], x[is_test], y[is_test]
        else:  # too few samples per class to hold any out
            x_test = y_test = None
    return Dataset(
        name=f"npz:{file.name}",
        x_train=x,
        y_train=y,
        x_test=x_test,
        y_test=y_test,
        num_classes=int(num_classes),
        augment=bool(augment),
        source=str(file),
    )
