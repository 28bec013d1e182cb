"""The torch-free embedding path: the ONNX export gives sentence-transformers' vectors, is checked by sha256,
is exported again (with a log line) when missing or damaged, and questions are answered without torch."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.embeddings import bundled_model_path, embeddings_for, onnx_dir
from assistant.onnx_embeddings import DATA_FILE, MODEL_FILE, RECORD_FILE, check_export, model_spec
from assistant.onnx_export import ensure_export

REPO = Path(__file__).resolve().parents[1]


def _export_folder(settings) -> Path:
    return onnx_dir(settings.models_dir, settings.embedding_model)


def test_ingest_leaves_a_verified_export_beside_the_index(guide_index):
    settings, _ = guide_index
    folder = _export_folder(settings)
    record = json.loads((folder / RECORD_FILE).read_text())
    rec, why = check_export(folder, model_spec(bundled_model_path()))
    assert rec is not None, why
    assert rec.sha256 == record["sha256"] and len(rec.sha256) == 64
    assert record["probe_min_cosine"] >= 0.9999
    assert record["source"] == str(bundled_model_path())


def test_damaged_outdated_or_missing_exports_are_refused_with_the_reason(guide_index, tmp_path):
    settings, _ = guide_index
    spec = model_spec(bundled_model_path())
    copy = tmp_path / "onnx"
    shutil.copytree(_export_folder(settings), copy)
    assert check_export(copy, spec)[0] is not None

    pristine = (copy / DATA_FILE).read_bytes()
    data = bytearray(pristine)
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights: same size, other sha256
    (copy / DATA_FILE).write_bytes(bytes(data))
    rec, why = check_export(copy, spec)
    assert rec is None and "damaged" in why
    (copy / DATA_FILE).write_bytes(pristine)
    assert check_export(copy, spec)[0] is not None

    record = json.loads((copy / RECORD_FILE).read_text())
    (copy / RECORD_FILE).write_text(json.dumps({**record, "source_mtime_ns": 1}))
    assert "another model" in check_export(copy, spec)[1]

    (copy / RECORD_FILE).write_text("{not json")
    assert "unreadable" in check_export(copy, spec)[1]

    (copy / MODEL_FILE).unlink()
    assert "no ONNX export" in check_export(copy, spec)[1]


def test_a_folder_that_is_not_a_plain_sentence_transformer_keeps_the_torch_path(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(bundled_model_path(), model, ignore=shutil.ignore_patterns("*.safetensors"))
    assert model_spec(model) is None  # no weights
    shutil.copy(bundled_model_path() / "model.safetensors", model / "model.safetensors")
    assert model_spec(model).pooling == "mean"
    modules = json.loads((model / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (model / "modules.json").write_text(json.dumps(modules))
    assert model_spec(model) is None  # a Dense head is not in the exported graph


@pytest.mark.slow
def test_a_damaged_export_is_exported_again_and_logged(tmp_path, caplog):
    spec = model_spec(bundled_model_path())
    folder = tmp_path / "onnx"
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(b"not a model")
    (folder / DATA_FILE).write_bytes(b"no weights")
    (folder / RECORD_FILE).write_text("{}")
    with caplog.at_level(logging.INFO, logger="assistant.embeddings"):
        rec = ensure_export(spec, folder)
    assert check_export(folder, spec)[0] == rec
    assert any("unreadable" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_onnx_vectors_equal_sentence_transformers_on_every_chunk(full_index):
    """The existing index stays valid: every chunk of guide + related embeds to cosine >= 0.9999."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from assistant.knowledge import load_knowledge

    settings, _ = full_index
    kb = load_knowledge(settings)
    texts = [d.page_content for d in kb.docs]
    ours = np.array(embeddings_for(settings).embed_documents(texts))
    ref = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(
        texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"\n{len(texts)} chunks: min cosine {cos.min():.8f}, mean {cos.mean():.8f}")
    assert len(texts) > 200 and cos.min() >= 0.9999
    query = "Which is better for real-time apps?"
    q = np.array(embeddings_for(settings).embed_query(query))
    assert float(q @ SentenceTransformer(str(bundled_model_path()), device="cpu").encode(query, normalize_embeddings=True)) >= 0.9999


CHILD = """
import json, sys
from assistant.config import load_settings
from assistant.service import Assistant
answer = Assistant(load_settings(llm="extractive")).ask(sys.argv[1])
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "langchain_huggingface") if m in sys.modules]
print(json.dumps({"text": answer.text, "cited": len(answer.citations), "heavy": heavy}))
"""


def test_a_question_is_answered_in_a_fresh_process_without_torch(guide_index):
    settings, _ = guide_index
    env = {**__import__("os").environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", CHILD, "Which is better for real-time apps?"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=settings.index_dir)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["cited"] >= 1 and "Node.js" in result["text"]
