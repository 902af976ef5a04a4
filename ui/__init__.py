"""Shells over `rag.Engine`: the Gradio chat (`ui.app`) and the HTTP API (`ui.api`).

`ui` imports `rag`, never the reverse.
"""
