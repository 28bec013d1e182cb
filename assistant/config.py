"""Typed settings: one object, read from `ASSISTANT_*` environment variables and `.env`.

Built by `load_settings()`, never at import time, so tests can point every path at tmp_path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Tuned on eval/cases.jsonl by eval/tune_refusal.py; see eval/refusal_tuning.md.
DEFAULT_MIN_RELEVANCE = 0.30
DEFAULT_MIN_COVERAGE = 0.75


class Settings(BaseSettings):
    """Every knob of the assistant. Environment: ASSISTANT_<FIELD> (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    # Paths
    corpus_dir: Path = Field(Path("corpus"), description="Folder with guide.txt, guide.toml, sources.toml and user files.")
    index_dir: Path = Field(Path("index"), description="Where the Chroma store, record manager, caches and feedback live.")
    related_dir: Path | None = Field(None, description="Local mirror of the related sources (instead of downloading).")
    model_cache_dir: Path | None = Field(None, description="Where assembled GGUF models are cached (default: <index_dir>/models).")

    # Embeddings and chunking
    embedding_model: str = Field("", description="Sentence-transformers model path or id; empty = bundled all-MiniLM-L6-v2.")
    chunk_tokens: int = Field(200, ge=40, le=2000, description="Token budget of a prose chunk (cl100k_base).")
    max_file_bytes: int = Field(2_000_000, ge=1, description="Files larger than this are skipped with a message.")

    # Vector store
    store: str = Field("auto", description="Vector store mode: auto, embedded or server.")
    chroma_host: str | None = Field(None, description="Chroma server host; when set the server mode is used.")
    chroma_port: int = Field(8000, description="Chroma server port.")

    # Retrieval
    k: int = Field(6, ge=1, le=50, description="Passages given to the answer step.")
    fetch_k: int = Field(20, ge=1, le=200, description="Candidates fetched from each retriever before fusion.")
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of dense similarity in the fused score "
                                "(BM25 gets the rest; each list min-max normalised).")
    primary_boost: float = Field(1.15, ge=1.0, description="Multiplier on the fused score of primary-source (guide) chunks.")
    min_relevance: float = Field(DEFAULT_MIN_RELEVANCE, description="Best dense similarity below which a question may be refused as not covered.")
    min_coverage: float = Field(DEFAULT_MIN_COVERAGE, description="Refuse when similarity is low AND less than this IDF-weighted share of the question's terms occur in the corpus.")

    # Answering
    llm: str | None = Field(None, description="Engine spec: extractive, local[:name|path], openai[:model], ollama[:model]. Default: extractive (see engines.DEFAULT_ENGINE).")
    max_question_chars: int = Field(4000, ge=1, description="Longer questions are rejected with a message.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM call is abandoned (then the extractive fallback answers).")
    llm_max_retries: int = Field(1, ge=0, le=5, description="Retries for hosted LLM calls.")
    llm_max_tokens: int = Field(320, ge=16, description="Cap on generated tokens.")
    llm_passages: int = Field(4, ge=1, le=20, description="Passages shown to an LLM engine (the prompt stays lean on a CPU).")
    llm_passage_tokens: int = Field(110, ge=30, description="Token budget per passage in an LLM prompt (most relevant sentences kept).")
    llm_context_tokens: int = Field(4096, ge=512, description="Context window for the local model.")
    llm_build: str = Field("auto", description="llama.cpp build the local model's server uses: auto (the AVX-512 variant "
                           "where the CPU has it, else portable), portable or avx512.")

    # Server
    host: str = Field("127.0.0.1", description="UI bind address.")
    port: int = Field(7860, description="UI port.")
    auth: str | None = Field(None, description="UI login: 'user:pass,user2:pass2' or a path to a file of such lines.")
    concurrency_limit: int = Field(4, ge=1, description="Answers computed at once by the UI queue.")
    max_conversations: int = Field(50, ge=1, description="Saved conversations kept per user (or browser); the oldest are dropped.")
    openai_api: bool = Field(False, description="Serve POST /v1/chat/completions (OpenAI schema) from the UI server; same login as the UI (API key 'user:pass') when ASSISTANT_AUTH is set.")

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or (self.index_dir / "models")

    @property
    def store_mode(self) -> str:
        if self.store != "auto":
            return self.store
        return "server" if self.chroma_host else "embedded"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, `.env` and explicit overrides (None values ignored)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
