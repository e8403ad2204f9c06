"""Search a network for your own images, in about ten lines: `python examples/own_data.py`."""

from pathlib import Path

import numpy as np

from archsearch import RunConfig, run

x = np.random.rand(600, 16, 16).astype("float32")  # your images: (N, H, W[, C])
y = (x.mean(axis=(1, 2)) > 0.5).astype("int64")  # your labels
np.savez("my_images.npz", x=x, y=y)  # no x_test/y_test: a fixed 20% is held out
summary = run(RunConfig(dataset="my_images.npz", time_budget="2m"), Path("runs/mine"))
print(summary["test_acc"], summary["architecture"], summary["onnx_file"])
