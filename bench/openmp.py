"""A diagnostic for one product setting: OpenMP's wait policy (assistant.embeddings sets PASSIVE).

torch and llama.cpp each load an OpenMP runtime; with the default (ACTIVE) policy their idle
threads spin. Each policy runs in fresh child processes (the runtime reads it once, at load),
alternating, measuring what the embedding model does in the product: a batch encode (ingestion)
and single-question embeddings (every retrieval).
"""

from __future__ import annotations

import time
from pathlib import Path

from .measure import median, summary_ms


def child_probe(args: dict) -> dict:
    from assistant.embeddings import bundled_model_path, torch_embeddings

    emb = torch_embeddings(str(bundled_model_path()))  # the torch path (exports and non-ONNX models) is what OpenMP affects
    emb.embed_documents(["warm up the model", "and its tokenizer"])
    texts = []
    for path in sorted(Path(args["related_dir"]).glob("*.*")):
        text = path.read_text(encoding="utf-8", errors="replace")
        texts += [text[i:i + 700] for i in range(0, len(text), 700)]
    texts = texts[:args.get("texts", 256)]
    t0 = time.perf_counter()
    emb._client.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    encode_s = time.perf_counter() - t0
    queries = []
    for _ in range(args.get("rounds", 2)):
        for q in args["questions"]:
            t0 = time.perf_counter()
            emb.embed_query(q)
            queries.append(time.perf_counter() - t0)
    return {"chunks_per_s": round(len(texts) / encode_s, 1), "query": summary_ms(queries)}


def run_probe(related_dir: Path, questions: list[str], repeats: int, run_task) -> dict:
    runs: dict[str, list[dict]] = {"ACTIVE": [], "PASSIVE": []}
    for r in range(repeats):
        for policy in (("ACTIVE", "PASSIVE") if r % 2 == 0 else ("PASSIVE", "ACTIVE")):
            runs[policy].append(run_task("embed_probe", {"related_dir": str(related_dir), "questions": questions},
                                         env={"OMP_WAIT_POLICY": policy}))
    out = {}
    for policy, rs in runs.items():
        out[policy] = {"chunks_per_s": median([r["chunks_per_s"] for r in rs]),
                       "query_p50_ms": median([r["query"]["p50_ms"] for r in rs]),
                       "query_p95_ms": median([r["query"]["p95_ms"] for r in rs]), "runs": len(rs)}
    out["passive_vs_active_query_p50"] = round(out["PASSIVE"]["query_p50_ms"] / out["ACTIVE"]["query_p50_ms"], 3)
    out["passive_vs_active_encode"] = round(out["PASSIVE"]["chunks_per_s"] / out["ACTIVE"]["chunks_per_s"], 3)
    return out
