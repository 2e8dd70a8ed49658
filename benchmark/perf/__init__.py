"""Performance measurements that are commands, not tests: ``run_benchmark.py perf ...`` and
``python -m benchmark.perf.measure.gpu``."""
