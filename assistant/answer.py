"""The typed result of answering one question (what the CLI prints as JSON and the UI renders)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """One cited passage: where it comes from and the exact quoted text."""

    n: int = Field(description="The [n] marker used in the answer text.")
    chunk_id: str
    source_id: str
    title: str
    section: str
    url: str
    quote: str = Field(description="The passage's text exactly as in the source: source_text[start:end].")
    start: int
    end: int
    highlight: list[tuple[int, int]] = Field(default_factory=list, description="Spans inside `quote` that the answer used.")
    factor: str = ""
    winner: str = ""
    node_cell: str = ""
    python_cell: str = ""


class Passage(BaseModel):
    """A retrieved passage as numbered in the prompt (cited or not)."""

    n: int
    chunk_id: str
    source_id: str
    section: str
    kind: str
    dense_score: float
    fused_score: float


class Timings(BaseModel):
    retrieve_ms: float = 0.0
    first_token_ms: float = 0.0
    total_ms: float = 0.0
    grounding_ms: float = Field(0.0, description="The sentence-level grounding check of an LLM answer (assistant/grounding.py).")


class Answer(BaseModel):
    question: str
    standalone_question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    refused: bool = False
    engine: str = "extractive"
    fallback_notice: str | None = None
    invalid_citations: list[int] = Field(default_factory=list, description="Markers the engine wrote that named no passage; removed.")
    unsupported_sentences: list[str] = Field(default_factory=list, description=(
        "Sentences of an LLM answer that no shown passage supports (assistant/grounding.py); removed from `text`."))
    timings: Timings = Field(default_factory=Timings)
