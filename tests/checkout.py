"""Copy the repository's source tree (what a checkout holds) to a folder, for tests that build,
install or run it from elsewhere."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def source_files() -> list[str]:
    """Tracked files and untracked files that git does not ignore, relative to the repository
    root (so the working tree's uncommitted changes are included); skips the test outside a
    git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout of the repository and git")
    return sorted({f for f in out.decode().split("\0") if f and (ROOT / f).is_file()})


def copy_source_tree(dst: Path) -> Path:
    """Copy ``source_files()`` to ``dst``; returns ``dst``."""
    for rel in source_files():
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return dst


def git_checkout_of_working_tree(dst: Path) -> Path:
    """``copy_source_tree(dst)`` committed into a new git repository: a clean checkout of the
    working tree as it is now."""
    copy_source_tree(dst)
    git = ["git", "-C", str(dst), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", "working tree"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return dst
