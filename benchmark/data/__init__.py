"""Dataset sources and seeded splits.

Importing this package registers the built-in sources in ``DATA_SOURCES``.
"""
from benchmark.data.base import LoadedData, load_data
from benchmark.data.splits import Splits, make_splits
from benchmark.data import sklearn_digits, idx_folder, hf_datasets  # noqa: F401  (registration)

__all__ = ["LoadedData", "load_data", "Splits", "make_splits"]
