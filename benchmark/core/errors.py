"""Every error class that the command line reports as one ``error: ...`` line (exit status 2).

This module imports nothing, so the command line can name these classes without loading
torch, pandas or scipy. Each class is re-exported by the module that raises it
(``benchmark.core.config.ConfigError``, ``methods.base.BudgetError``, ...), so either import works.
"""
from __future__ import annotations


class ConfigError(ValueError):
    """A task or suite spec is malformed; the message names file, field and expectation."""


class RegistryError(ValueError):
    """Raised on a duplicate or invalid registration."""


class UnknownNameError(KeyError):
    """An unknown registry name; the message lists the valid names and the closest one."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class ResultsError(ValueError):
    """A results file is corrupt, truncated, or does not follow the schema."""


class DataError(ValueError):
    """A dataset cannot be loaded: a missing file, a bad format, or bad parameters."""


class RunConflictError(RuntimeError):
    """A results file exists for this path but holds a different run."""


class OracleError(ValueError):
    """A query the ledger refuses: a duplicate, an index not in the unqueried pool, or over budget."""


class BudgetError(ValueError):
    """A budget that is not a positive integer or exceeds the unqueried pool."""


class MethodError(RuntimeError):
    """A method returned an invalid selection (wrong count, duplicates, out of range)."""


class MethodFailure(RuntimeError):
    """A method raised or answered badly during a run; the message names the method, task,
    seed and round. The grid runner records it and goes on with the other runs."""


class GridError(RuntimeError):
    """Some runs of a grid failed (``failures``: one line each); the others finished."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__(f"{len(failures)} run(s) failed: " + "; ".join(failures))
        self.failures = list(failures)


class CompareError(ValueError):
    """A results or reference folder that cannot be compared (missing, empty, ambiguous)."""


class LeaderboardError(ValueError):
    """The records cannot form one leaderboard (none complete, mixed suites or versions)."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, RegistryError, UnknownNameError, ResultsError, DataError, RunConflictError, OracleError,
    BudgetError, MethodError, CompareError, LeaderboardError, FileNotFoundError)
"""The errors that bad user input raises; the command line prints them as one line."""
