"""scikit-learn's bundled handwritten digits (Alpaydin & Kaynak, UCI 1998): 1,797 8x8
images, 10 classes, pixel values 0..16 scaled to [0, 1]. Embedded, so no download."""
from __future__ import annotations

import numpy as np

from benchmark.data.base import LoadedData
from benchmark.core.registry import register_data_source


@register_data_source("sklearn_digits")
def load_sklearn_digits() -> LoadedData:
    """x: (1797, 1, 8, 8) float32 in [0, 1]; y: (1797,) int64."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return LoadedData(x=x, y=d.target.astype(np.int64), num_classes=10)


load_sklearn_digits.cacheable = False  # already on disk inside scikit-learn
