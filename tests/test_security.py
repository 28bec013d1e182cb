"""Security defaults: loopback bind, keys only from the environment and never written anywhere,
no pickle loading or remote code, ingested files never executed or expanded."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Settings

from .conftest import REPO
from .fake_llm_server import FakeLLMServer, closed_port

PLANTED = "sk-test-PLANTED-1234567890abcdef"
Q = "Which is better for real-time apps?"


# -- binding --------------------------------------------------------------------------------

def test_binds_loopback_unless_told_otherwise(monkeypatch):
    assert Settings.model_fields["host"].default == "127.0.0.1"
    assert Settings().host == "127.0.0.1"
    monkeypatch.setenv("ASSISTANT_HOST", "0.0.0.0")
    assert Settings().host == "0.0.0.0"  # only an explicit setting opens it up


# -- API keys -------------------------------------------------------------------------------

def test_keys_are_not_settings_and_a_dotenv_key_is_not_used(tmp_path, monkeypatch):
    """Keys come from the process environment only: not a Settings field, not read from .env."""
    from assistant.engines import engine_statuses
    from assistant.engines.llm import make_openai
    from assistant.errors import EngineUnavailableError

    assert not [name for name in Settings.model_fields
                if re.search(r"api_?key|secret|password|credential|bearer|(?:^|_)key$|(?:^|_)token$", name)]
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={PLANTED}\nASSISTANT_K=7\n")
    settings = Settings()
    assert settings.k == 7  # .env is read for our settings ...
    assert PLANTED not in settings.model_dump_json()
    assert os.environ.get("OPENAI_API_KEY") is None  # ... but never exports keys
    with pytest.raises(EngineUnavailableError):
        make_openai("", settings)
    assert not next(s for s in engine_statuses() if s.spec == "openai").available


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + "\n")
            if record.exc_info:
                self.stream.write(logging.Formatter().formatException(record.exc_info) + "\n")
            self.stream.write(repr(record.__dict__) + "\n")  # extras too
        except Exception:  # noqa: BLE001 - a broken record must not hide the others
            self.stream.write(f"<unformattable record from {record.name}>\n")


@pytest.fixture
def debug_logs():
    """Every logger at DEBUG into one buffer (libraries' own loggers included)."""
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    named = {n: logging.getLogger(n).level for n in ("openai", "httpx", "httpcore", "langchain", "langchain_openai",
                                                      "chromadb", "assistant", "urllib3")}
    for n in named:
        logging.getLogger(n).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)
    for n, level in named.items():
        logging.getLogger(n).setLevel(level)


def _files_containing(root: Path, needle: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                pass
    return hits


@pytest.mark.slow  # seven CLI runs, each loading the index: > 10 s
def test_planted_key_never_reaches_logs_outputs_errors_or_files(tmp_path, corpus_copy, monkeypatch, capsys, debug_logs):
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    monkeypatch.setenv("OPENAI_LOG", "debug")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("ASSISTANT_LLM_TIMEOUT", "1.5")
    (corpus_copy / "note.md").write_text("# Note\n\nWe deploy Node.js workers behind nginx.\n")
    outputs: list[str] = []

    def run(argv, stdin: str | None = None) -> int:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(argv)
        out = capsys.readouterr()
        outputs.extend([out.out, out.err])
        return status

    assert run(["ingest", "--json"]) == 0
    assert run(["status", "--json"]) == 0
    assert run(["engines"]) == 0
    # A proxy that echoes the Authorization header in its 401 message, a 500, garbage, a hang ...
    for mode in ("auth_echo", "error500", "garbage", "ok", "hang"):
        with FakeLLMServer(mode, hang_seconds=10) as server:
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            assert run(["ask", Q, "--json", "--llm", "openai:fake"]) == 0
            sent = [{k.lower(): v for k, v in r["headers"].items()}.get("authorization") for r in server.requests]
            assert f"Bearer {PLANTED}" in sent, (mode, sent)
    # ... and an endpoint that is down, plus error lines of the stdin mode.
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    assert run(["ask", "-", "--json", "--llm", "openai:fake"], stdin=f"{Q}\n{'x' * 5000}\n") == 1
    assert run(["ask", Q, "--llm", "openai:fake"]) == 0

    answers = [json.loads(line) for text in outputs for line in text.splitlines() if line.startswith('{"question"')]
    assert sum(1 for a in answers if a.get("fallback_notice")) >= 5  # the failures really happened
    assert any("Authentication" in (a.get("fallback_notice") or "") for a in answers)
    everything = "\n".join(outputs) + debug_logs.stream.getvalue()
    for needle in (PLANTED, PLANTED[len("sk-test-"):], "1234567890abcdef"):
        assert needle not in everything
        assert not _files_containing(tmp_path, needle.encode())


def test_engine_errors_are_redacted_even_when_the_exception_carries_the_key(monkeypatch):
    from assistant.engines.llm import _describe
    from assistant.redact import redact

    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    assert PLANTED not in _describe(RuntimeError(f"401: Incorrect API key provided: {PLANTED}"))
    assert PLANTED not in redact(f"headers={{'Authorization': 'Bearer {PLANTED}'}}")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert PLANTED not in redact(f"key={PLANTED}")  # key-shaped text, even when not configured


# -- no pickle, no remote code --------------------------------------------------------------

FORBIDDEN = {
    r"\bpickle\.loads?\(": "pickle loading",
    r"\bimport\s+pickle\b|\bfrom\s+pickle\s+import\b": "pickle import",
    r"\b(?:cloud)?pickle\b.*\bUnpickler\b": "unpickler",
    r"trust_remote_code\s*[=:]\s*True|['\"]trust_remote_code['\"]\s*:\s*True": "remote code",
    r"\btorch\.load\(": "torch.load (pickle)",
    r"\bjoblib\.load\(": "joblib.load (pickle)",
    r"allow_pickle\s*=\s*True": "numpy pickle",
    r"\byaml\.load\((?![^)]*SafeLoader)": "unsafe yaml",
    r"(?<![\w.])(?:eval|exec)\(": "eval/exec",
    r"\bshell\s*=\s*True": "shell=True",
    r"\bos\.system\(": "os.system",
}


def _package_sources() -> list[Path]:
    files = sorted((REPO / "assistant").rglob("*.py"))
    files += [p for p in (REPO / "app.py",) if p.exists()]
    return files


def test_no_pickle_loading_remote_code_or_eval_in_the_package():
    offenders = []
    for path in _package_sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in FORBIDDEN.items():
                if re.search(pattern, code):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {what}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_embedding_model_is_loaded_without_remote_code_from_safetensors():
    from assistant.embeddings import bundled_model_path

    src = (REPO / "assistant" / "embeddings.py").read_text()
    assert '"trust_remote_code": False' in src
    model = bundled_model_path()
    assert (model / "model.safetensors").is_file()
    assert not [p for p in model.rglob("*") if p.suffix in (".bin", ".pt", ".pkl", ".pickle", ".ckpt")]


# -- ingested files are data ----------------------------------------------------------------

def test_ingested_files_are_never_executed_or_expanded(tmp_path, corpus_copy, monkeypatch):
    from assistant.ingest import ingest
    from assistant.knowledge import load_knowledge

    from .conftest import make_settings

    marker = tmp_path / "EXECUTED"
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-CONTENT-42\n")
    payloads = {
        "run-me.md": f"#!/bin/sh\ntouch {marker}\n\n# Runbook\n\nShell snippets about Django deploys.\n\n"
                     f"```python\nopen({str(marker)!r}, 'w').write('x')\n```\n",
        "page.html": f"<html><head><title>Page</title><script>fetch('file://{secret}')</script></head>"
                     f"<body><p>Node.js event loop notes.</p><img src=x onerror=\"alert(1)\">"
                     f"<iframe src=\"file://{secret}\"></iframe><object data=\"{secret}\"></object></body></html>",
        "include.rst": f"Include\n=======\n\n.. include:: {secret}\n\n.. raw:: html\n   :file: {secret}\n\n"
                       "Python asyncio notes for FastAPI.\n",
        "link.md": f"# Links\n\n![x](file://{secret}) and [y]({secret}) about FastAPI.\n\n<!-- {{% include '{secret}' %}} -->\n",
        "template.txt": "Jinja {{ ''.__class__.__mro__[1].__subclasses__() }} and ${7*7} and `id` and $(id) about Python.\n",
        "evil.py": f"open({str(marker)!r}, 'w').write('x')\n",
        "conftest.md": f"import os; os.system('touch {marker}')\n",
    }
    for name, text in payloads.items():
        path = corpus_copy / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    settings = make_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx", llm="extractive")
    report = ingest(settings)
    assert {f["name"] for f in report.failures} == {"evil.py"}  # unsupported type: named, not run
    kb = load_knowledge(settings)
    texts = "\n".join(d.page_content + str(d.metadata.get("quote")) for d in kb.docs)
    assert "TOPSECRET" not in texts  # nothing was included, fetched or expanded
    assert "__subclasses__" in texts  # template syntax kept as plain text
    assert "Python asyncio notes for FastAPI." in texts  # the reST file is read; its directives are dropped, never followed
    assert "fetch(" not in texts  # script bodies are dropped from HTML
    from assistant.service import Assistant

    for q in ("What do the runbook shell snippets say?", "What is in the include notes?"):
        Assistant(settings, kb=kb).ask(q)
    assert not marker.exists()
