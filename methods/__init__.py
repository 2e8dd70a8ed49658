"""Acquisition methods. Importing this package registers every built-in method in
``benchmark.registry.METHODS``; one module per family."""
from methods.base import AcquisitionMethod, BudgetError, MethodError, ScoreMethod
from methods import rad, random_sampling, uncertainty  # noqa: F401  (registration)

__all__ = ["AcquisitionMethod", "ScoreMethod", "BudgetError", "MethodError"]
