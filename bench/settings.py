"""Benchmark settings: the product's defaults, isolated from the caller's ASSISTANT_* variables and .env."""

from __future__ import annotations

import os


def bench_settings(**kw):
    """`Settings` with the product defaults plus `kw` (None values dropped); embedded store, extractive unless given."""
    from assistant.config import Settings

    values = {"llm": "extractive", "store": "embedded", **{k: v for k, v in kw.items() if v is not None}}
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ASSISTANT_")}
    try:
        return Settings(_env_file=None, **values)
    finally:
        os.environ.update(saved)
