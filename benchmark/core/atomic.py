"""Atomic file replacement, and the safe removal of what a killed writer left behind.

``atomic_write(path, write)`` lets ``write`` fill a temporary file beside ``path``
(``.<name>.<pid>.tmp<suffix>``), flushes it to disk, and renames it over ``path``, so a
reader sees the old file or the new one, never half of one. The temporary file is removed
when ``write`` raises (an interrupt included). A process killed outright cannot clean up;
``sweep_stale_tmp(folder)`` removes the temporary files whose writing process no longer
exists, and never one that a live process is still writing.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

_TMP = re.compile(r"^\.?.+\.(\d+)\.tmp(\.[A-Za-z0-9]+)?$")


def tmp_path(path: Path) -> Path:
    """The temporary name ``atomic_write`` uses for ``path`` in this process."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)``, fsync ``tmp``, rename it to ``path``; returns ``path``.

    An ``OSError`` with an errno from writing, syncing or renaming (a full disk, a read-only
    file system) is raised again with ``path`` as its ``filename`` (same errno, same subclass,
    the original as its cause), so its message names the file meant, not the temporary one or
    none at all; other exceptions pass unchanged. The temporary file is removed either way."""
    path = Path(path)
    tmp = tmp_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.errno is None:
            raise
        raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(path)) from e
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_stale_tmp(folder: Path, recursive: bool = True) -> list[Path]:
    """Remove the temporary files under ``folder`` left by writers that are gone; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.rglob("*.tmp*") if recursive else folder.glob("*.tmp*"):
        m = _TMP.match(p.name)
        if m and p.is_file() and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
