"""paperchat: grounded question answering over a corpus of paper abstracts.

from rag import Engine
answer = Engine().ask("which papers study length generalization?")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.engine import Engine
    from rag.errors import UserError
    from rag.models import Answer, Chunk, Citation, Hit, Message, Paper, SearchResult
    from rag.retrieve import Filters
    from rag.settings import Settings, load_settings

# Public names -> the module defining them. Imported on first use (PEP 562), so `import rag` or
# `import rag.cli` costs nothing until a command needs the engine.
_EXPORTS = {
    "Answer": "rag.models", "Chunk": "rag.models", "Citation": "rag.models", "Engine": "rag.engine",
    "Filters": "rag.retrieve", "Hit": "rag.models", "Message": "rag.models", "Paper": "rag.models",
    "SearchResult": "rag.models", "Settings": "rag.settings", "UserError": "rag.errors",
    "load_settings": "rag.settings",
}  # fmt: skip

__all__ = [
    "Answer", "Chunk", "Citation", "Engine", "Filters", "Hit", "Message", "Paper", "SearchResult", "Settings",
    "UserError", "load_settings",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
