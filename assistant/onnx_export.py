"""Exporting a sentence-transformers folder to ONNX, once, with torch: the only place the query path's model
touches torch. `ensure_export(spec, folder)` checks an existing export (sha256), else copies one this process
already made, else exports, checks the result against sentence-transformers on probe sentences, and records it
in export.json. Concurrent processes take turns on a file lock; nothing is ever downloaded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from .errors import ConfigError
from .onnx_embeddings import (DATA_FILE, EXPORT_FORMAT, MODEL_FILE, RECORD_FILE, ExportRecord, ModelSpec, OnnxEncoder,
                              check_export, sha256_file)

log = logging.getLogger("assistant.embeddings")

PROBES = ("Should a startup that streams live scores pick Node.js or Python?",
          "Django ships with protection against CSRF, XSS and SQL injection.",
          "The event loop runs callbacks when the call stack is empty.")
MIN_PROBE_COSINE = 0.9999

# Files exported by this process, by source: a new index folder copies one instead of exporting again.
_EXPORTED: dict[str, Path] = {}


def ensure_export(spec: ModelSpec, folder: Path) -> ExportRecord:
    """A verified export of spec in folder: checked, else copied from this process's earlier export,
    else exported with torch (once; logged). Concurrent processes take turns on a file lock."""
    rec, why = check_export(folder, spec)
    if rec is not None:
        return rec
    from filelock import FileLock

    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".export.lock")):
        rec, why = check_export(folder, spec)  # another process may have just exported it
        if rec is not None:
            return rec
        earlier = _EXPORTED.get(str(spec.path))
        if earlier is not None and earlier != folder and check_export(earlier, spec)[0] is not None:
            log.info("ONNX embedding model: %s; copying the export this process made in %s.", why, earlier)
            for name in (DATA_FILE, MODEL_FILE, RECORD_FILE):
                shutil.copyfile(earlier / name, folder / f".{name}.tmp")
                os.replace(folder / f".{name}.tmp", folder / name)
            rec, _ = check_export(folder, spec)
            if rec is not None:
                return rec
        log.warning("ONNX embedding model: %s; exporting it from %s with torch (once, ~10-20 s).", why, spec.path)
        rec = export(spec, folder)
    _EXPORTED[str(spec.path)] = folder
    return rec


def export(spec: ModelSpec, folder: Path) -> ExportRecord:
    """Export spec's model to folder/model.onnx with torch (pooling + normalisation in the graph), check it
    against sentence-transformers on PROBES, then write export.json. Raises ConfigError when it cannot."""
    t0 = time.perf_counter()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see embeddings.build_embeddings
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        # eager attention: the SDPA path drops an all-ones mask while tracing, and the graph then ignores padding
        model = AutoModel.from_pretrained(str(spec.path), trust_remote_code=False, attn_implementation="eager").eval()
    except Exception as exc:  # ImportError, OSError, ValueError from transformers
        raise ConfigError(f"Cannot export the embedding model {spec.path} to ONNX: {exc}",
                          "Reinstall the package (pip install -e .), or set ASSISTANT_EMBEDDING_MODEL to a local "
                          "sentence-transformers folder.") from exc

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            if spec.pooling == "cls":
                pooled = hidden[:, 0]
            else:  # sentence-transformers' mean pooling, to the same clamp
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 5:] = 0  # a padded row, so the traced graph keeps the mask
    dummy = (torch.full((2, 8), 101, dtype=torch.long), mask, torch.zeros(2, 8, dtype=torch.long))
    tmp_dir = folder / f".export-{os.getpid()}"
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / MODEL_FILE
    import warnings

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pooled(model), dummy, str(tmp), input_names=names, output_names=["embedding"],
                              dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        import onnx

        # Weights to model.onnx.data beside the graph (onnxruntime maps them rather than copying them).
        onnx.save_model(onnx.load(str(tmp)), str(tmp), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=DATA_FILE, size_threshold=1024)
    except Exception as exc:  # the exporter raises many types; the onnx package may be missing
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise ConfigError(f"Exporting the embedding model to ONNX failed ({exc.__class__.__name__}: {exc}).",
                          "Install the exporter's dependency: pip install onnx (or pip install -e .).") from exc
    probe = _probe_cosine(spec, tmp)
    if probe < MIN_PROBE_COSINE:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise ConfigError(f"The ONNX export of {spec.path} disagrees with sentence-transformers (cosine {probe:.6f}).",
                          "Nothing to do: the torch path embeds instead (same model, slower start).")
    (folder / RECORD_FILE).unlink(missing_ok=True)  # no record names a half-replaced pair
    for name in (DATA_FILE, MODEL_FILE):
        os.chmod(tmp_dir / name, 0o644)  # onnx writes the weights 0600; a server may run as another user than ingest
        os.replace(tmp_dir / name, folder / name)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    st = spec.weights.stat()
    size = (folder / MODEL_FILE).stat().st_size + (folder / DATA_FILE).stat().st_size
    rec = ExportRecord(EXPORT_FORMAT, sha256_file(folder / MODEL_FILE), sha256_file(folder / DATA_FILE), size,
                       str(spec.path), st.st_size, st.st_mtime_ns, spec.pooling, spec.max_seq_length, spec.lower_case,
                       round(probe, 8), torch.__version__, round(time.perf_counter() - t0, 2))
    (folder / f".{RECORD_FILE}.tmp").write_text(json.dumps(asdict(rec), indent=2), encoding="utf-8")
    os.replace(folder / f".{RECORD_FILE}.tmp", folder / RECORD_FILE)
    log.info("Exported the embedding model to %s in %.1f s (probe cosine %.7f).", folder / MODEL_FILE, rec.seconds, probe)
    return rec


def _probe_cosine(spec: ModelSpec, onnx_file: Path) -> float:
    """The lowest cosine between the export and sentence-transformers' own encode on PROBES."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(spec.path), device="cpu", trust_remote_code=False).encode(
        list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    ours = OnnxEncoder(spec, onnx_file).encode(list(PROBES))
    return float(np.min(np.sum(ours * ref, axis=1)))
