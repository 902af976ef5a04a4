"""tiktoken, offline: cl100k_base is read from the cache that llama-index-core ships."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import tiktoken

# Found without importing llama_index.core (~1-3 s that counting tokens does not need).
_LLAMA_SPEC = importlib.util.find_spec("llama_index.core")
_LLAMA_CACHE = Path(_LLAMA_SPEC.origin or "").parent / "_static" / "tiktoken_cache" if _LLAMA_SPEC else Path()


@lru_cache(maxsize=4)
def encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    if "TIKTOKEN_CACHE_DIR" not in os.environ and _LLAMA_CACHE.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(_LLAMA_CACHE)
    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:
        raise ValueError(f"tiktoken encoding {name!r} is not available offline (use cl100k_base)") from exc


def count_tokens(text: str, name: str = "cl100k_base") -> int:
    return len(encoding(name).encode(text, disallowed_special=()))


def truncate_tokens(text: str, limit: int, name: str = "cl100k_base") -> str:
    enc = encoding(name)
    ids = enc.encode(text, disallowed_special=())
    return text if len(ids) <= limit else enc.decode(ids[:limit])
