"""Read-only tabular benchmark data (NAS-Bench-201), shipped inside the package."""

from archsearch.benchmarks.nb201 import DATASETS, NB201Table, dataset_name

__all__ = ["DATASETS", "NB201Table", "dataset_name"]
