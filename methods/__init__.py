"""Acquisition methods. Importing this package registers every built-in method in
``benchmark.core.registry.METHODS``; one module per family."""
from methods.base import AcquisitionMethod, BudgetError, MethodError, MixupPlan, ScoreMethod
from methods import random_sampling, uncertainty  # noqa: F401  (registration)
from methods import rad, rad_true_k  # noqa: F401  (registration)
from methods import badge, cluster_margin, coreset, oracle, pcoreset, unixkd  # noqa: F401  (registration)
from methods import bald, probcover, stochastic, typiclust  # noqa: F401  (registration)

__all__ = ["AcquisitionMethod", "ScoreMethod", "BudgetError", "MethodError", "MixupPlan"]
