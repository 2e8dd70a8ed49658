"""Student and teacher architectures. Importing this package registers them in ``MODELS``.

Every model is a ``Classifier``: ``embed(x)`` gives the penultimate features (N, d) and
``forward(x)`` the logits (N, C). Build one with ``build_model(spec, input_shape, C)``.
"""
from benchmark.models.base import Classifier, build_model
from benchmark.models import mlp, cnn  # noqa: F401  (registration)

__all__ = ["Classifier", "build_model"]
