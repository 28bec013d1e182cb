"""Shared fixtures: every path points at tmp_path; the embedding model loads once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
RELATED = (REPO / ".." / "shared" / "related").resolve()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _hypothesis_profiles() -> None:
    """CI replays the same examples on every run (a random failure must not decide whether a
    submission lands); `make fuzz` searches afresh with many more examples (FUZZ_EXAMPLES)."""
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    settings.register_profile("fuzz", derandomize=False, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "default"))


_hypothesis_profiles()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's .env, index or keys."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_") or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # a stray relative path lands in tmp, and no .env is picked up
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(CORPUS))


def require_related() -> Path:
    if not (RELATED / "SOURCES.md").is_file():
        if IN_CI:
            pytest.fail(f"CI must have the related sources at {RELATED}")
        pytest.skip(f"related sources not found at {RELATED} (they sit in ../shared/related beside the repo)")
    return RELATED


def require_local() -> None:
    """Skip (or, in CI, fail) when the local engine cannot run: CI installs the local extra."""
    from assistant.engines import local_status

    ok, why = local_status()
    if not ok:
        if IN_CI:
            pytest.fail(f"CI installs the local extra, but: {why}")
        pytest.skip(why)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A private copy of corpus/ that a test may edit."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def make_settings(**kw):
    from assistant.config import load_settings

    kw.setdefault("corpus_dir", CORPUS)
    return load_settings(**kw)


@pytest.fixture(scope="session")
def full_index(tmp_path_factory):
    """The guide plus the nine related sources, indexed once for the session."""
    from assistant.ingest import ingest

    related = require_related()
    settings = make_settings(index_dir=tmp_path_factory.mktemp("full-index"), related_dir=related, llm="extractive")
    report = ingest(settings)
    return settings, report


@pytest.fixture(scope="session")
def guide_index(tmp_path_factory):
    """The guide alone, indexed once for the session."""
    from assistant.ingest import ingest

    settings = make_settings(index_dir=tmp_path_factory.mktemp("guide-index"), llm="extractive")
    report = ingest(settings)
    return settings, report


@pytest.fixture(scope="session")
def assistant(full_index):
    from assistant.service import Assistant

    return Assistant(full_index[0])


@pytest.fixture(scope="session")
def factor_table():
    """(header, rows) parsed from the corpus itself."""
    import tomllib

    from assistant.factors import parse_factor_table

    meta = tomllib.loads((CORPUS / "guide.toml").read_text())
    t = meta["table"]
    return parse_factor_table((CORPUS / "guide.txt").read_text(), t["header_line"], t["first_row"], t["last_row"])


@pytest.fixture(scope="session")
def gguf_cache(tmp_path_factory) -> Path:
    """One folder of assembled GGUF models for the session (joining the parts takes seconds)."""
    return tmp_path_factory.mktemp("models")
