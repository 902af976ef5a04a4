"""Shells over `rag.Engine`: the chat page (`ui.app`, static files in ui/static) and the HTTP API (`ui.api`).

`ui` imports `rag`, never the reverse.
"""
