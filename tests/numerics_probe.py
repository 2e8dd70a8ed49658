"""Print, as one JSON line, digests of results that each CPU-dependent library computes, in
the numerics mode named by argv[1] (``portable`` or ``fast``), and the identity in force.

Each probe exercises one library's CPU dispatch: glibc's libm (NumPy float64 exp/log call
it), NumPy's own SIMD loops (float32 exp, sum), OpenBLAS (NumPy matmul), MKL (torch's BLAS,
a large matmul), ATen's vectorized kernels (softmax, tanh) and torch's convolution path.
"""
import sys

from benchmark.core import numerics

numerics.ensure_process(sys.argv[1])

import hashlib  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

numerics.apply_runtime()
torch.set_num_threads(1)


def digest(a) -> str:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:12]


rng = np.random.default_rng(0)
x64 = rng.standard_normal(100_000) * 10
x32 = x64.astype(np.float32)
torch.manual_seed(0)
t = torch.from_numpy(x32).view(-1, 100)
probes = {
    "libm": digest(np.exp(x64) + np.log1p(np.abs(x64))),
    "numpy_simd": digest(np.exp(x32 / 10) + np.sqrt(np.abs(x32))),
    "openblas": digest(rng.standard_normal((64, 300)) @ rng.standard_normal((300, 50))),
    "mkl": digest(torch.randn(256, 512) @ torch.randn(512, 256)),
    "aten": digest(torch.softmax(t, 1) + torch.tanh(t)),
    "conv": digest(torch.nn.functional.conv2d(torch.randn(32, 3, 28, 28), torch.randn(16, 3, 3, 3))),
}
print(json.dumps({"identity": numerics.numerics_identity(), "probes": probes}))
