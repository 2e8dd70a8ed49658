"""AKD-Bench: a benchmark harness for active knowledge distillation."""
__version__ = "0.1.0"
