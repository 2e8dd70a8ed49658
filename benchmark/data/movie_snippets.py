"""Build ``movie_review_snippets.csv``, the data file of the ``movie_snippets`` task.

Source: the movie-review snippets of the VADER sentiment ground-truth sets (C. J. Hutto and
E. Gilbert, ICWSM 2014, MIT license), ``additional_resources/hutto_ICWSM_2014.tar.gz`` ->
``movieReviewSnippets_GroundTruth.txt`` inside the source distribution of PyPI
``vaderSentiment==3.3.2``. Each line is ``id<TAB>mean valence<TAB>sentence``. The CSV keeps
the columns ``text,label,valence`` (label = 1 when the mean human valence is above 0,
valence with 4 decimals), drops sentences whose valence is exactly 0 and repeated sentences
(first kept): 10,566 rows, sha256 ``99e43a64...``.

``python run_benchmark.py prepare movie_snippets --data-dir DIR`` fetches the sdist with
pip (from PyPI, or a local ``--sdist`` file) and writes ``DIR/movie_review_snippets.csv``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from benchmark.data.base import DataError

FILE_NAME = "movie_review_snippets.csv"
SHA256 = "99e43a647468c38c20f3427cddc8b4e571e84eaeb4468403dbfefce589934276"
SDIST = "vaderSentiment==3.3.2"
_INNER = "additional_resources/hutto_ICWSM_2014.tar.gz"
_MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"


def snippets_csv(ground_truth: str) -> bytes:
    """The CSV bytes from the text of ``movieReviewSnippets_GroundTruth.txt``."""
    seen: set[str] = set()
    rows = []
    for no, line in enumerate(ground_truth.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise DataError(f"{_MEMBER} line {no}: expected id<TAB>valence<TAB>sentence")
        text, valence = parts[2].strip(), float(parts[1])
        if valence == 0.0 or text in seen:
            continue
        seen.add(text)
        rows.append((text, int(valence > 0), f"{valence:.4f}"))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["text", "label", "valence"])
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _ground_truth_from_sdist(sdist: Path) -> str:
    try:
        with tarfile.open(sdist) as outer:
            inner_member = next((m for m in outer.getmembers() if m.name.endswith(_INNER)), None)
            if inner_member is None:
                raise DataError(f"{sdist}: no {_INNER} inside; expected the {SDIST} source distribution")
            with tarfile.open(fileobj=outer.extractfile(inner_member)) as inner:
                return inner.extractfile(_MEMBER).read().decode("utf-8")
    except (tarfile.TarError, KeyError, OSError) as e:
        raise DataError(f"{sdist}: cannot read the {SDIST} source distribution: {e}") from None


def _download_sdist(folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d", str(folder),
           SDIST]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob("vaderSentiment-*.tar.gz"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"could not fetch {SDIST} from PyPI with pip ({last}); download its source "
                        f"distribution elsewhere and pass it with --sdist")
    return found[0]


def prepare_movie_snippets(dest_dir: Path, sdist: Path | None = None, expected_sha256: str | None = SHA256) -> Path:
    """Write ``dest_dir/movie_review_snippets.csv`` (atomically) and return its path."""
    with tempfile.TemporaryDirectory(prefix="akd-vader-") as tmp:
        src = Path(sdist) if sdist is not None else _download_sdist(Path(tmp))
        data = snippets_csv(_ground_truth_from_sdist(src))
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise DataError(f"{src.name}: the built {FILE_NAME} has sha256 {digest[:12]}..., expected "
                        f"{expected_sha256[:12]}...; is it the {SDIST} source distribution?")
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / FILE_NAME
    tmp_out = out.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    tmp_out.write_bytes(data)
    tmp_out.replace(out)
    return out
