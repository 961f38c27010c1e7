"""Where open_clip weights come from: a local checkpoint, the download caches, or the network.

open_clip downloads a pretrained tag's weights through the Hugging Face hub (or a URL). Offline,
or with the hub unreachable, that would retry for most of a minute (URL downloads have no timeout
at all), so we decide first: network usable -> give open_clip the tag; otherwise -> the weights
file already in a cache, or a clear :class:`EmbedderUnavailable` saying how to provide it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
_TRUE = {"1", "true", "yes", "on"}
_hash_memo: dict[tuple[str, int, int], str] = {}


class EmbedderUnavailable(RuntimeError):
    """The configured embedder cannot run here; the message says what is missing and the fix."""


def hub_offline() -> bool:
    """True when the user asked the Hugging Face libraries never to touch the network."""
    return any(
        os.environ.get(v, "").strip().lower() in _TRUE
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def reachable(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout_s`` (DNS included)."""
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            ok.append(True)
        except OSError:
            pass

    # getaddrinfo ignores socket timeouts, hence the thread with a join timeout.
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s + 0.5)
    return bool(ok)


def fix_hint(model: str, tag: str | None) -> str:
    """How a user gets CLIP weights onto a machine that lacks them."""
    tag_s = tag or "<tag>"
    return (
        "Fix: set HARDNEG_CLIP_CHECKPOINT to a local open_clip checkpoint file for this model, or"
        ' cache the weights once on a machine with network access (python -c "import open_clip;'
        f" open_clip.create_model('{model}', pretrained='{tag_s}')\") and copy the Hugging Face"
        " cache (~/.cache/huggingface) here, or set HARDNEG_EMBEDDER=minilm:all-MiniLM-L6-v2."
    )


def resolve_pretrained(model: str, tag: str) -> str:
    """What to pass as open_clip's ``pretrained=``: the tag, or a cached/local weights file."""
    import open_clip

    path = Path(tag).expanduser()
    if path.is_file():
        return str(path)
    cfg = open_clip.get_pretrained_cfg(model, tag)
    if not cfg:
        known = open_clip.list_pretrained_tags_by_model(model)
        raise EmbedderUnavailable(
            f"open_clip has no pretrained tag {tag!r} for model {model!r} and no file of that name"
            f" exists; known tags: {known}. {fix_hint(model, tag)}"
        )
    if "file" in cfg:
        return tag
    if _network_ok(cfg):
        return tag
    cached = cached_weights(cfg)
    if cached is not None:
        log.info("using cached weights %s for %s/%s (hub not used)", cached, model, tag)
        return cached
    why = "HF_HUB_OFFLINE is set" if hub_offline() else "the download host is unreachable"
    raise EmbedderUnavailable(
        f"CLIP weights for open_clip model {model!r}, pretrained tag {tag!r} are not in the local"
        f" caches and {why}. {fix_hint(model, tag)}"
    )


def _network_ok(cfg: dict[str, Any]) -> bool:
    if hub_offline():
        return False
    if cfg.get("hf_hub"):
        from huggingface_hub import constants

        return reachable(constants.ENDPOINT)
    return reachable(str(cfg.get("url", "")))


def cached_weights(cfg: dict[str, Any]) -> str | None:
    """The weights file of a pretrained config if a previous download left it in a cache."""
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache
        from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

        repo, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        names = [HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else []
        if filename.endswith(".bin"):
            names.append(filename[: -len(".bin")] + ".safetensors")
        for name in [*names, filename]:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str) and Path(found).is_file():
                return found
    if cfg.get("url"):
        target = Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        if target.is_file():
            return str(target)
    return None


def file_digest(path: Path) -> str:
    """12-hex SHA-256 prefix of a weights file (memoised by path, size and mtime)."""
    st = path.stat()
    memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo_key not in _hash_memo:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _hash_memo[memo_key] = h.hexdigest()[:12]
    return _hash_memo[memo_key]
