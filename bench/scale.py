"""How cost grows with the corpus: synthetic corpora of ~1k, 10k and 100k chunks.

Measured sizes go through the real ingest path with the real model (beside the raw encode of the
same texts). Projected sizes (100k in the full run) cannot be embedded within the budget: their
store is built from the real vectors of the largest measured index plus seeded perturbations of
those vectors (and perturbed texts), inserted straight into the Chroma collection with the same
metadata and record-manager rows, so index size, memory and retrieval latency there are real;
only their ingest time is extrapolated from the measured rate, and labelled so.

The `child_*` functions run in a fresh process each (see bench.worker), so each reports its own
peak RSS.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from .measure import dir_size_mb, median, peak_rss_mb, ratio, summary_ms


def _settings(index_dir, corpus_dir, **kw):
    from .settings import bench_settings

    return bench_settings(index_dir=Path(index_dir), corpus_dir=Path(corpus_dir), **kw)


# -- children -------------------------------------------------------------------------------------

def child_ingest(args: dict) -> dict:
    """Ingest a corpus folder through the real path (real model), then the raw encode of the same chunk texts
    (a seeded sample of `anchor_sample` of them on large corpora: a throughput, so a sample measures it)."""
    import random

    from assistant.sentence_vectors import sentences_path

    from .ingestion import ingest_fresh, load_model, padding, raw_encode

    load_s, emb = load_model()
    settings = _settings(args["index_dir"], args["corpus_dir"])
    out = ingest_fresh(settings, emb, related=False)
    peak_ingest = peak_rss_mb()  # before the anchor runs in this process
    texts = out["texts"]
    sample = texts if len(texts) <= args.get("anchor_sample", 1_000_000) else random.Random(0).sample(texts, args["anchor_sample"])
    anchor_s = raw_encode(emb, sample)
    ours_rate, raw_rate = out["chunks"] / out["seconds"], len(sample) / anchor_s
    return {"chunks": out["chunks"], "model_load_s": round(load_s, 2), "ingest_s": round(out["seconds"], 3),
            "raw_encode_s": round(anchor_s, 3), "anchor_texts": len(sample), "chunks_per_s": round(ours_rate, 1),
            "raw_chunks_per_s": round(raw_rate, 1), "ratio_to_raw": round(ours_rate / raw_rate, 3),
            "model_s": round(out["model_s"], 3), "model_vs_raw": round(out["model_s"] / len(texts) / (anchor_s / len(sample)), 3),
            "peak_rss_mb": peak_ingest, "padding": padding(emb, texts), "index_dir": str(args["index_dir"]),
            "sentences_embedded": out["sentences_embedded"], "sentences_s": round(out["sentences_seconds"], 3),
            "sentences_mb": round(sentences_path(Path(args["index_dir"])).stat().st_size / 1e6, 1)}


def child_build_projected(args: dict) -> dict:
    """A store of `n` chunks from a measured index's real vectors plus seeded perturbations (no model)."""
    import numpy as np

    from assistant.chunking import CHUNKER_VERSION
    from assistant.embeddings import LazyEmbeddings
    from assistant.ingest import MANIFEST, record_manager
    from assistant.store import build_vector_store, collection_name, get_client

    from .synth import perturbed_vectors, synthetic_chunks, vocabulary

    n = int(args["n"])
    sample = _settings(args["sample_index_dir"], args["corpus_dir"])
    src = build_vector_store(sample, LazyEmbeddings(), get_client(sample, create=False))._collection
    got = src.get(include=["embeddings", "documents", "metadatas"])
    guide = [i for i, m in enumerate(got["metadatas"]) if m.get("primary")]
    rest = [i for i, m in enumerate(got["metadatas"]) if not m.get("primary")] or list(range(len(got["ids"])))

    from langchain_core.documents import Document

    def doc(i):
        return Document(page_content=got["documents"][i], metadata=got["metadatas"][i], id=got["ids"][i])

    base_docs = [doc(i) for i in rest]
    base_vecs = np.asarray(got["embeddings"], dtype=np.float32)[rest]
    vocab = vocabulary([d.page_content for d in base_docs[:2000]])

    settings = _settings(args["index_dir"], args["corpus_dir"])
    store = build_vector_store(settings, LazyEmbeddings(), get_client(settings, create=True))
    col = store._collection
    manager = record_manager(settings)
    batch = min(4096, store._client.get_max_batch_size())
    t_insert = t_records = t_make = 0.0
    sources: dict[str, int] = {}

    def put(docs, vecs):
        nonlocal t_insert, t_records
        t0 = time.perf_counter()
        col.add(ids=[d.id for d in docs], embeddings=vecs, documents=[d.page_content for d in docs],
                metadatas=[d.metadata for d in docs])
        t1 = time.perf_counter()
        manager.update([d.id for d in docs], group_ids=[d.metadata["source_id"] for d in docs])
        t_records += time.perf_counter() - t1
        t_insert += t1 - t0
        for d in docs:
            sources[d.metadata["source_id"]] = sources.get(d.metadata["source_id"], 0) + 1

    put([doc(i) for i in guide], np.asarray(got["embeddings"], dtype=np.float32)[guide])
    made = len(guide)
    while made < n:
        k = min(batch, n - made)
        t0 = time.perf_counter()
        start = made - len(guide)
        docs = synthetic_chunks(base_docs, k, vocab, start=start)
        vecs = perturbed_vectors(base_vecs, k, start=start)
        t_make += time.perf_counter() - t0
        put(docs, vecs)
        made += k
    manifest = {"collection": collection_name(settings), "chunker": CHUNKER_VERSION, "fingerprint": "synthetic",
                "sources": [{"id": s, "title": s, "origin": "user", "url": "", "chunks": c, "as_of": ""}
                            for s, c in sources.items()], "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (settings.index_dir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return {"chunks": made, "insert_s": round(t_insert, 2), "records_s": round(t_records, 2),
            "generate_s": round(t_make, 2), "peak_rss_mb": peak_rss_mb(), "sample_vectors": len(rest)}


def child_query(args: dict) -> dict:
    """Load the index as the app does, then warm retrieval: hybrid (the chain's retriever) vs raw dense."""
    from assistant.knowledge import load_knowledge
    from assistant.retrieval import build_retriever

    from assistant.embeddings import build_embeddings

    settings = _settings(args["index_dir"], args["corpus_dir"])
    t0 = time.perf_counter()
    emb = build_embeddings(settings.embedding_model)
    emb.embed_query("warm up")
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    kb = load_knowledge(settings, embeddings=emb)  # every chunk and its metadata, for BM25 and the table
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    kb.bm25  # noqa: B018 - built on first use; counted as part of loading
    bm25_s = time.perf_counter() - t0
    out = measure_retrieval(kb, build_retriever(kb), args["questions"], args.get("rounds", 3))
    out.update(chunks=len(kb.docs), model_load_s=round(model_s, 2), load_s=round(load_s + bm25_s, 2),
               chunks_load_s=round(load_s, 2), bm25_build_s=round(bm25_s, 2), peak_rss_mb=peak_rss_mb())
    return out


# -- retrieval, shared with the corpus-level section -------------------------------------------------

def measure_retrieval(kb, retriever, questions: list[str], rounds: int) -> dict:
    """Warm p50/p95 of `retriever.invoke` vs the raw dense path (query embedding + Chroma query), alternating
    which goes first; plus the hybrid's parts (dense side, BM25 side, query embedding) for where time goes."""
    emb = kb.store.embeddings
    col = kb.store._collection
    k = min(retriever.fetch_k, len(kb.docs))

    def dense_raw(q):
        return col.query(query_embeddings=[emb.embed_query(q)], n_results=k)

    for q in questions:  # warm every path once
        retriever.invoke(q)
        dense_raw(q)
    hybrid, dense = [], []
    for r in range(rounds):
        for i, q in enumerate(questions):
            pair = [("h", retriever.invoke), ("d", dense_raw)]
            if (r + i) % 2:
                pair.reverse()
            for name, fn in pair:
                t0 = time.perf_counter()
                fn(q)
                (hybrid if name == "h" else dense).append(time.perf_counter() - t0)
    parts = {"query_embedding": [], "dense_side": [], "bm25_side": []}
    for q in questions:
        for name, fn in (("query_embedding", emb.embed_query), ("dense_side", retriever.dense), ("bm25_side", retriever.sparse)):
            t0 = time.perf_counter()
            fn(q)
            parts[name].append(time.perf_counter() - t0)
    h, d = summary_ms(hybrid), summary_ms(dense)
    return {"hybrid": h, "dense_raw": d, "ratio_p50": ratio(h["p50_ms"], d["p50_ms"]),
            "ratio_p95": ratio(h["p95_ms"], d["p95_ms"]),
            "parts_p50_ms": {name: summary_ms(xs)["p50_ms"] for name, xs in parts.items()}}


def query_embedding_threads(emb, questions: list[str], rounds: int) -> dict:
    """Query embedding p50 with torch's default intra-op threads vs one thread, alternating (a diagnostic:
    for a one-sentence input, threads mostly add synchronisation, which a busy CPU makes expensive)."""
    import torch

    default = torch.get_num_threads()
    runs: dict[int, list[float]] = {default: [], 1: []}
    try:
        for r in range(max(1, rounds)):
            for i, q in enumerate(questions):
                for n in ((default, 1) if (r + i) % 2 == 0 else (1, default)):
                    torch.set_num_threads(n)
                    t0 = time.perf_counter()
                    emb.embed_query(q)
                    runs[n].append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(default)
    return {"default_threads": default, "p50_ms_default": summary_ms(runs[default])["p50_ms"],
            "p50_ms_one_thread": summary_ms(runs[1])["p50_ms"], "p95_ms_default": summary_ms(runs[default])["p95_ms"],
            "p95_ms_one_thread": summary_ms(runs[1])["p95_ms"]}


# -- the section ------------------------------------------------------------------------------------

def run_scale(profile, ctx, run_task) -> dict:
    """Measured sizes (those above 2,000 only as large as the run's budget allows at the rate just measured),
    then projected ones, built from the largest measured index; a target size not measured is projected."""
    from .synth import write_corpus

    rows, largest, notes = [], None, []
    if ctx.related_dir is None:
        return {"rows": [], "skipped": "the related docs (../shared/related) are needed to generate the corpora"}
    projected = list(profile.scale_projected)
    for target in profile.scale_measured:
        n = target
        if target > 2_000 and largest is not None:
            n = affordable(profile, ctx, largest[2]["chunks_per_s"], target)
            if n < target:
                notes.append(f"{target:,} chunks would take ~{target / largest[2]['chunks_per_s'] / 60:.0f} min to embed at "
                             f"this machine's {largest[2]['chunks_per_s']:.0f} chunks/s, past the run's "
                             f"{profile.budget_s / 60:.0f}-min budget: measured at {n:,} instead"
                             f"{'' if n else ' (skipped)'} and {target:,} projected.")
                projected.append(target)
            if not n:
                continue
        corpus = ctx.work / f"synth-{n}"
        t0 = time.perf_counter()
        info = write_corpus(corpus, n, ctx.corpus_dir, ctx.related_dir, ctx.chunk_tokens)
        gen_s = time.perf_counter() - t0
        index_dir = ctx.work / f"scale-{n}"
        ing = run_task("scale_ingest", {"corpus_dir": str(corpus), "index_dir": str(index_dir),
                                        "anchor_sample": profile.anchor_sample})
        idx = Path(ing.pop("index_dir"))
        qry = run_task("scale_query", {"index_dir": str(idx), "corpus_dir": str(corpus),
                                       "questions": ctx.questions, "rounds": profile.retrieval_rounds})
        rows.append({"target": target, "kind": "measured", "chunks": ing["chunks"], "generate_corpus_s": round(gen_s, 2),
                     "files": info["files"], "index_mb": dir_size_mb(idx), "ingest": ing, "query": qry})
        shutil.rmtree(corpus, ignore_errors=True)
        largest = (idx, corpus, ing)
    for n in sorted(set(projected)):
        if largest is None:
            break
        sample_idx, _corpus, ing = largest
        if n <= ing["chunks"]:
            continue
        index_dir = ctx.work / f"scale-{n}"
        built = run_task("scale_build", {"n": n, "index_dir": str(index_dir), "sample_index_dir": str(sample_idx),
                                         "corpus_dir": str(ctx.corpus_dir)})
        qry = run_task("scale_query", {"index_dir": str(index_dir), "corpus_dir": str(ctx.corpus_dir),
                                       "questions": ctx.questions, "rounds": profile.retrieval_rounds})
        rate = ing["chunks_per_s"]
        rows.append({"target": n, "kind": "projected", "chunks": built["chunks"], "index_mb": dir_size_mb(index_dir),
                     "build": built, "query": qry,
                     "ingest": {"chunks_per_s": None, "ingest_s_extrapolated": round(built["chunks"] / rate, 1),
                                "extrapolated_from_chunks": ing["chunks"], "extrapolated_rate": rate,
                                "peak_rss_mb": None}})
        shutil.rmtree(index_dir, ignore_errors=True)
    return {"rows": rows, "notes": notes}


# Seconds the projected steps take per 1,000 chunks (Chroma insert + records + loading and querying them),
# measured on the 2-core build machine; used only to keep room for them in the budget.
PROJECTED_S_PER_1K = 1.8


def affordable(profile, ctx, rate: float, target: int) -> int:
    """The largest measured size (a multiple of 1,000, at least 2,000, else 0) whose ingest plus raw-encode sample
    and query child fit in what is left of the budget after the projected steps and the reserve."""
    projected = sum(profile.scale_projected) / 1000 * PROJECTED_S_PER_1K + (target / 1000 * PROJECTED_S_PER_1K)
    left = profile.budget_s - ctx.elapsed() - profile.reserve_s - projected
    cost_per_chunk = 1.0 / rate
    fixed = 40 + profile.anchor_sample / rate  # two child start-ups and the anchor sample
    n = int(max(0.0, left - fixed) / cost_per_chunk / 1000) * 1000
    n = min(n, target)
    return n if n >= 2_000 else 0
