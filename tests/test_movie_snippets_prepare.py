"""``prepare movie_snippets``: the CSV built from the VADER ground-truth file."""
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.data.base import DataError
from benchmark.data.movie_snippets import FILE_NAME, SHA256, prepare_movie_snippets, snippets_csv

SHARED_CSV = Path(__file__).parents[1].parent / "shared" / "data" / FILE_NAME

GROUND_TRUTH = ("1\t2.26666666667\tThe Rock is destined to be great, or not.\r\n"
                "2\t-0.6\tEffective but too tepid biopic\r\n"
                "3\t0.0\tA neutral sentence.\r\n"
                "4\t1.5\tEffective but too tepid biopic\r\n"
                "\r\n")


def _fake_sdist(path: Path, ground_truth: str) -> Path:
    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as t:
        add(t, "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt", ground_truth.encode())
    with tarfile.open(path, "w:gz") as t:
        add(t, "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz", inner.getvalue())
    return path


def test_csv_rules():
    text = snippets_csv(GROUND_TRUTH).decode()
    assert text.split("\r\n") == [
        "text,label,valence",
        '"The Rock is destined to be great, or not.",1,2.2667',
        "Effective but too tepid biopic,0,-0.6000",  # zero valence and the repeat are dropped
        "",
    ]


def test_prepare_from_a_local_sdist(tmp_path, capsys):
    sdist = _fake_sdist(tmp_path / "vaderSentiment-3.3.2.tar.gz", GROUND_TRUTH)
    with pytest.raises(DataError, match=r"has sha256 .* expected 99e43a647468"):
        prepare_movie_snippets(tmp_path / "out", sdist)
    assert not (tmp_path / "out" / FILE_NAME).exists()
    want = hashlib.sha256(snippets_csv(GROUND_TRUTH)).hexdigest()
    out = prepare_movie_snippets(tmp_path / "out", sdist, expected_sha256=want)
    assert out.read_bytes() == snippets_csv(GROUND_TRUTH)


def test_not_an_sdist(tmp_path, capsys):
    bad = tmp_path / "x.tar.gz"
    with tarfile.open(bad, "w:gz"):
        pass
    assert main(["prepare", "movie_snippets", "--data-dir", str(tmp_path), "--sdist", str(bad)]) == 2
    assert "no additional_resources/hutto_ICWSM_2014.tar.gz inside" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED_CSV.exists(), reason=f"{SHARED_CSV} not present")
def test_published_file_has_the_documented_hash():
    """The hash prepare checks against is the one of the file the cpu-text results used."""
    assert hashlib.sha256(SHARED_CSV.read_bytes()).hexdigest() == SHA256
