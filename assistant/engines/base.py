"""The one contract every answering engine keeps, and what the chain hands it.

The chain numbers the retrieved passages, asks the engine to `prepare` what it will be shown, then
streams `write`. What differs between engines is declared, not probed:

- `generative`: the engine writes its own words (an LLM). The chain checks them (prompt echo,
  empty or marker-only text, citations of passages it was shown) and answers with the extractive
  engine's cited quotes, with a notice, when they fail.
- `exclusive`: the engine writes one answer at a time (an in-process model); others wait their turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from langchain_core.documents import Document

if TYPE_CHECKING:
    from ..plan import QuestionPlan


@dataclass
class EnginePrompt:
    """What one answer is written from.

    `shown` are the passages the engine sees, numbered [1]..[n] in this order (an LLM sees them cut
    to their relevant sentences); `messages` the chat messages for an LLM (empty otherwise); the
    extractive engine composes its answer here and keeps the text it will stream in `draft`, with
    the spans of each passage's quote it used in `highlights`. `plan` is the question as understood
    once (assistant/plan.py: intent, factors, needs, stacks, other technologies); the chain sets it
    on every prompt, so an engine may shape its answer by intent.
    """

    question: str
    shown: list[Document]
    messages: list = field(default_factory=list)
    draft: str = ""
    highlights: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    plan: QuestionPlan | None = None

    def highlight(self, n: int) -> list[tuple[int, int]] | None:
        """The spans of passage `n`'s quote this answer used (None: the passage as a whole)."""
        return self.highlights.get(n) or self.shown[n - 1].metadata.get("highlight")


@runtime_checkable
class Engine(Protocol):
    """An answering engine: `extractive`, `local`, `openai`, `ollama` (see engines/__init__.py)."""

    name: str
    spec: str
    generative: bool
    exclusive: bool

    def prepare(self, question: str, passages: list[Document]) -> EnginePrompt:
        """Choose and shape what the engine is shown for `question` (cheap; no generation yet)."""
        ...

    def write(self, prompt: EnginePrompt) -> Iterator[str]:
        """Stream the answer's text, with [n] markers naming `prompt.shown` passages.

        Raises `EngineFailedError` when the engine cannot answer (down, timed out, malformed)."""
        ...
