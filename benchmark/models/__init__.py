"""Student and teacher architectures. Importing this package registers them in ``MODELS``.

Every model is a ``Classifier``: ``embed(x)`` gives the penultimate features (N, d) and
``forward(x)`` the logits (N, C). Build one with ``build_model(spec, input_shape, C, meta)``.

Vision: ``mlp``, ``small_cnn``, ``resnet_cifar``/``resnet20``/``resnet56``, ``mobilenetv2``.
Text (token ids): ``embedding_bag``, ``tiny_transformer``, ``hf_classifier``
(transformers), ``frozen_encoder`` (a frozen transformers encoder with cached outputs + head).
"""
from benchmark.models.base import Classifier, build_model
from benchmark.models import mlp, cnn, resnet_cifar, mobilenet, text, hf, frozen_encoder  # noqa: F401  (registration)

__all__ = ["Classifier", "build_model"]
