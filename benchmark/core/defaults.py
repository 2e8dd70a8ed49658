"""Default values shared by the command line and the modules behind it.

This module imports nothing, so ``--help`` can show the defaults without loading the
numerical libraries.
"""

DEFAULT_LEVEL = 0.99
"""Confidence level of the Welch t-interval that sets a comparison's tolerance."""
DEFAULT_FLOOR = 0.005
"""Smallest tolerance of a comparison, for runs with no spread across seeds."""
