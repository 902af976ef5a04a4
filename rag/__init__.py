"""paperchat: grounded question answering over a corpus of paper abstracts.

from rag import Engine
answer = Engine().ask("which papers study length generalization?")
"""

from rag.engine import Engine
from rag.errors import UserError
from rag.models import Answer, Chunk, Citation, Hit, Message, Paper, SearchResult
from rag.retrieve import Filters
from rag.settings import Settings, load_settings

__all__ = [
    "Answer", "Chunk", "Citation", "Engine", "Filters", "Hit", "Message", "Paper", "SearchResult", "Settings",
    "UserError", "load_settings",
]  # fmt: skip
