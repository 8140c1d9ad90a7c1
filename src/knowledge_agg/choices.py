"""The closed sets of values some settings take, kept free of pydantic so the CLI offers them before importing it."""

from __future__ import annotations

from typing import Literal

__all__ = ["Provider", "Answer"]

#: The search provider: ``auto`` is Brave when a key is set, else the local index.
Provider = Literal["auto", "local", "brave"]
#: Who writes the answer: the extractive summary, or a chat model (``llm``) whose citations are checked.
Answer = Literal["extractive", "llm"]
