"""The query-time embedding path: the same sentence-transformers model run by onnxruntime, without torch.

A sentence-transformers folder (Transformer → mean or CLS pooling → normalise) is exported once
(`assistant.onnx_export`, with torch) into `<models dir>/onnx/<model label>/`: `model.onnx` (the graph, pooling and
normalisation inside) and `model.onnx.data` (the weights as external data, which onnxruntime maps instead
of copying: the session's peak RSS is ~55 MB above the interpreter instead of ~145 MB), with `export.json`
recording both files' sha256, the source weights' size and mtime, and the cosine to sentence-transformers
on probe sentences. Every load checks the sha256 (~60 ms for 90 MB); a missing, damaged or outdated export
is exported again, with a log line, from the local model (never downloaded). Tokenising uses the model's own `tokenizer.json` via
the `tokenizers` package with sentence-transformers' truncation (max_seq_length) and whitespace strip.

Measured on every chunk of guide + related docs (285): cosine to sentence-transformers >= 0.99999994
(tests/test_onnx_embeddings.py). Import + session ~0.4 s and ~60 MB, against ~6 s and ~500 MB for
torch + sentence-transformers; bulk encoding is as fast as torch on 2 cores (BENCHMARKS.md, Cold start),
so ingest uses this path too and torch is loaded only to export.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

EXPORT_FORMAT = 2  # bump when the exported graph changes; older files are exported again (2: external weights)
MODEL_FILE, DATA_FILE, RECORD_FILE = "model.onnx", "model.onnx.data", "export.json"
BATCH = 16  # as the torch path: each batch is padded to its longest text


@dataclass(frozen=True)
class ModelSpec:
    """What the export needs to know about a sentence-transformers folder."""

    path: Path
    weights: Path
    pooling: str  # "mean" or "cls"
    max_seq_length: int
    lower_case: bool


@dataclass(frozen=True)
class ExportRecord:
    """`export.json`: what was exported from where, and the files' sha256."""

    format: int
    sha256: str  # model.onnx
    data_sha256: str  # model.onnx.data
    bytes: int  # both files
    source: str
    source_bytes: int
    source_mtime_ns: int
    pooling: str
    max_seq_length: int
    lower_case: bool
    probe_min_cosine: float
    torch: str
    seconds: float


def model_spec(path: Path) -> ModelSpec | None:
    """The folder as a ModelSpec, or None when it is not a plain Transformer→Pooling(mean|cls)→Normalize model
    with a tokenizer.json (those keep the torch path)."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pool_dir = next(path / m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((pool_dir / "config.json").read_text(encoding="utf-8"))
        st = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    weights = next((path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).is_file()), None)
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(next(iter(modes), ""), "")
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"} or len(modes) != 1 or not mode \
            or weights is None or not (path / "tokenizer.json").is_file():
        return None
    return ModelSpec(path, weights, mode, int(st.get("max_seq_length") or 512), bool(st.get("do_lower_case")))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_export(folder: Path, spec: ModelSpec) -> tuple[ExportRecord | None, str]:
    """(the record, "") when folder holds a sound export of spec; else (None, why not)."""
    model, data, record = folder / MODEL_FILE, folder / DATA_FILE, folder / RECORD_FILE
    if not model.is_file() or not data.is_file() or not record.is_file():
        return None, f"no ONNX export in {folder}"
    try:
        rec = ExportRecord(**json.loads(record.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        return None, f"{record} is unreadable ({exc.__class__.__name__})"
    st = spec.weights.stat()
    if rec.format != EXPORT_FORMAT or rec.source != str(spec.path) or (rec.source_bytes, rec.source_mtime_ns) != \
            (st.st_size, st.st_mtime_ns) or (rec.pooling, rec.max_seq_length, rec.lower_case) != \
            (spec.pooling, spec.max_seq_length, spec.lower_case):
        return None, f"the export in {folder} was made from another model or exporter version"
    if model.stat().st_size + data.stat().st_size != rec.bytes or sha256_file(model) != rec.sha256 \
            or sha256_file(data) != rec.data_sha256:
        return None, f"the export in {folder} is damaged (its sha256 differs from {RECORD_FILE})"
    return rec, ""


def _prepare(spec: ModelSpec, text: str) -> str:
    text = str(text).strip()  # sentence-transformers strips each text before tokenising
    return text.lower() if spec.lower_case else text


def _tokenizer(spec: ModelSpec):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
    # sentence-transformers truncates at max_seq_length (tokenizer.json itself may say 128) and pads to the longest
    tok.enable_truncation(max_length=spec.max_seq_length)
    pad_id = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=pad_id if pad_id is not None else 0, pad_token="[PAD]" if pad_id is not None else "<pad>")
    return tok


class OnnxEncoder:
    """tokenizer.json + an onnxruntime session over an exported model; `encode(texts)` → normalised float32 rows."""

    def __init__(self, spec: ModelSpec, onnx_file: Path) -> None:
        import onnxruntime as ort

        self.spec = spec
        self.tokenizer = _tokenizer(spec)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # Basic (constant folding, redundant nodes) rather than all fusions: the session opens in ~0.15 s instead
        # of ~0.3 s, and a question's encode is ~5 ms either way (all fusions: ~10% faster on 16x200-token batches).
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        opts.inter_op_num_threads = 1
        # Idle onnxruntime threads spin by default; on shared cores that steals from the rest (cf. OMP_WAIT_POLICY).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str]):
        import numpy as np

        out = []
        for i in range(0, len(texts), BATCH):
            enc = self.tokenizer.encode_batch([_prepare(self.spec, t) for t in texts[i:i + BATCH]])
            feeds = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                     "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                     "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
            out.append(self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0])
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


class OnnxEmbeddings(Embeddings):
    """LangChain `Embeddings` over the ONNX export: the vectors of sentence-transformers, without torch."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        from .onnx_export import ensure_export

        self.record = ensure_export(spec, folder)
        self.folder = folder
        self.encoder = OnnxEncoder(spec, folder / MODEL_FILE)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode([text])[0].tolist()
