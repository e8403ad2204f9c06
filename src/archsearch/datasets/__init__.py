"""Datasets held in memory as tensors: digits, MNIST, Fashion-MNIST, CIFAR-10 and a
user's own `.npz`. Loaders read local files first (a data directory, `ARCHSEARCH_DATA`,
system places) and download from the canonical source with a checksum otherwise.

Importing this package imports torch.
"""

from archsearch.datasets import cifar, digits, idx, npz  # noqa: F401  (registers the loaders)
from archsearch.datasets.base import DATASETS, Dataset, Split, clear_cache, load_dataset
from archsearch.datasets.sources import ENV_VAR, DatasetError

__all__ = ["DATASETS", "ENV_VAR", "Dataset", "DatasetError", "Split", "clear_cache", "load_dataset"]
