"""Speed of the harness's hot paths, as ratios to floors timed in the same process
(pytest-benchmark; run with `pytest tests/benchmarks -o addopts="" --benchmark-only`).

- the shared top-k on 10^6 scores (k = 10^4) against a bare ``np.argsort`` of the same scores
  (top-k partitions, O(n), so it is faster than the sort: about 0.3x);
- one digits student round through the harness's ``fit`` (150 full-batch epochs on 70
  examples) against a plain torch loop training the same network with the same optimizer
  and plain cross-entropy (about 1.2x).

Absolute targets (top-k <= 0.1 s, the round <= 0.5 s on 2 CPU cores) are checked by
``python run_benchmark.py perf targets``.
"""
import numpy as np
import torch
import torch.nn.functional as F

from benchmark.core.config import load_task
from benchmark.models import build_model
from benchmark.perf.measure import timed
from benchmark.run.train import fit, make_train_set
from methods.topk import top_k

# Upper bounds on the median ratio: several times the ratio measured under two busy loops on
# 2 cores, and still far below what a 10x slowdown or an O(n log n) -> O(n^2) change gives.
TOP_K_MAX_RATIO = 1.0
STUDENT_ROUND_MAX_RATIO = 4.0


def test_top_k_million(ratio):
    scores = np.random.default_rng(0).random(1_000_000)
    rng = np.random.default_rng(1)
    r = ratio(timed(lambda: top_k(scores, 10_000, rng), repeats=5), timed(lambda: np.argsort(-scores), repeats=3), rounds=7,
              label="top_k / argsort")
    assert r <= TOP_K_MAX_RATIO


def _digits_round():
    task = load_task("digits")
    rng = np.random.default_rng(0)
    x = rng.random((70, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 20)
    soft = rng.dirichlet(np.ones(10), 50).astype(np.float32)
    ts = make_train_set(x[:20], y, x[20:], soft, 10, task.train, torch.device("cpu"))

    def harness():
        fit(build_model(task.student, (1, 8, 8), 10), ts, task.train, 0, torch.device("cpu"))

    hard = torch.from_numpy(np.concatenate([y, soft.argmax(1)]))
    xt = torch.from_numpy(x)

    def plain():
        model = build_model(task.student, (1, 8, 8), 10)
        opt = torch.optim.Adam(model.parameters(), lr=task.train.lr, weight_decay=task.train.weight_decay)
        for _ in range(task.train.epochs):
            loss = F.cross_entropy(model(xt), hard)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return harness, plain


def test_digits_student_round(ratio):
    harness, plain = _digits_round()
    r = ratio(timed(harness), timed(plain), rounds=7, label="digits student round / plain torch loop")
    assert r <= STUDENT_ROUND_MAX_RATIO
