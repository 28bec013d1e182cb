"""Ingestion through the real path (`assistant.ingest.ingest`) beside its anchor, the embedding
model's own `SentenceTransformer.encode` on the same chunk texts with the same batch size; and a
re-ingest of the unchanged corpus, in process and as a fresh `assistant ingest` command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .measure import ROOT, child_env, median, ratio, timed


class TimedEmbeddings(Embeddings):
    """Passes calls to the real embeddings, adding up the time spent in the model and the texts seen."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        out = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - t0
        self.texts.extend(texts)
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def load_model(model: str = "") -> tuple[float, object]:
    """(seconds to load and warm up, the product's embeddings) — the load is reported, not counted in rates."""
    from assistant.embeddings import build_embeddings

    t0 = time.perf_counter()
    emb = build_embeddings(model)
    emb.embed_documents(["warm up the model", "and its tokenizer"])
    return time.perf_counter() - t0, emb


def batch_size(embeddings) -> int:
    if hasattr(embeddings, "encoder"):  # the ONNX path (assistant.onnx_embeddings)
        from assistant.onnx_embeddings import BATCH

        return BATCH
    return int((getattr(embeddings, "encode_kwargs", None) or {}).get("batch_size", 32))


def raw_encode(embeddings, texts: list[str]) -> float:
    """Seconds for the model's own encode over `texts` at the product's batch size (the anchor): the onnxruntime
    session over tokenizer batches for the ONNX path, sentence-transformers' encode for the torch path."""
    if hasattr(embeddings, "encoder"):
        seconds, _ = timed(embeddings.encoder.encode, texts)
        return seconds
    seconds, _ = timed(embeddings._client.encode, texts, batch_size=batch_size(embeddings), normalize_embeddings=True,
                       show_progress_bar=False, convert_to_numpy=True)
    return seconds


def _token_lengths(embeddings, texts: list[str]) -> list[int]:
    if hasattr(embeddings, "encoder"):
        tok = embeddings.encoder.tokenizer
        limit = embeddings.encoder.spec.max_seq_length
        return [min(limit, len(e.ids)) for e in tok.encode_batch(texts)]  # truncation is on; padding per batch only
    model = embeddings._client
    limit = model.max_seq_length or 512
    return [min(limit, n) for n in (len(ids) for ids in model.tokenizer(texts, truncation=False)["input_ids"])]


def padding(embeddings, texts: list[str], window: int = 128) -> dict:
    """Tokens the model computes (each batch padded to its longest text) when it gets `window` texts per
    call, as ingest hands them over (sorted by length), vs one call over all texts (the anchor); the model
    sorts by length only within a call."""
    lens = _token_lengths(embeddings, texts)
    size = batch_size(embeddings)

    def padded(win: int) -> int:
        total = 0
        for i in range(0, len(lens), win):
            # as SentenceTransformer.encode does: longest first by characters, then batches of `size`
            order = sorted(range(i, min(i + win, len(lens))), key=lambda k: -len(texts[k]))
            for j in range(0, len(order), size):
                batch = [lens[k] for k in order[j:j + size]]
                total += max(batch) * len(batch)
        return total

    # ingest hands chunks over shortest first (assistant.ingest._index), so its windows hold like lengths
    by_len = sorted(range(len(lens)), key=lambda k: lens[k])
    texts, lens = [texts[k] for k in by_len], [lens[k] for k in by_len]
    real = sum(lens)
    return {"window": window, "real_tokens": real, "padded_per_window": padded(window), "padded_one_call": padded(len(lens) or 1),
            "overhead_per_window": round(padded(window) / real - 1, 3) if real else None,
            "overhead_one_call": round(padded(len(lens) or 1) / real - 1, 3) if real else None}


def ingest_fresh(settings, embeddings, *, related: bool) -> dict:
    """One ingest into an empty index folder; seconds overall and inside the model."""
    from assistant.ingest import ingest

    timed_emb = TimedEmbeddings(embeddings)
    t0 = time.perf_counter()
    report = ingest(settings, related=related, embeddings=timed_emb)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "chunks": report.chunks, "embedded": report.embedded, "model_s": timed_emb.seconds,
            "texts": timed_emb.texts, "sentences_embedded": report.sentences_embedded,
            "sentences_seconds": report.sentences_seconds}


def prepare_seconds(settings, related: bool) -> float:
    """Reading and chunking the corpus alone (the part of an ingest before any embedding)."""
    from assistant.chunking import chunk_source
    from assistant.sources import collect_corpus

    t0 = time.perf_counter()
    corpus = collect_corpus(settings.corpus_dir, related=related, related_dir=settings.related_dir,
                            cache_dir=settings.index_dir / "related-cache", max_bytes=settings.max_file_bytes)
    for src in corpus.docs:
        chunk_source(src, settings.chunk_tokens)
    return time.perf_counter() - t0


def measure_corpus(name: str, make_settings, embeddings, *, related: bool, repeats: int) -> dict:
    """Ours vs the raw encode, alternating which goes first, `repeats` times each; medians."""
    ours, anchor, model_s, chunks, embedded = [], [], [], 0, 0
    texts: list[str] = []
    for r in range(repeats):
        def run_ours():
            out = ingest_fresh(make_settings(f"{name}-r{r}"), embeddings, related=related)
            ours.append(out["seconds"])
            model_s.append(out["model_s"])
            return out

        if r % 2 == 0:
            out = run_ours()
            texts = out["texts"]
            anchor.append(raw_encode(embeddings, texts))
        else:
            anchor.append(raw_encode(embeddings, texts))
            out = run_ours()
        chunks, embedded = out["chunks"], out["embedded"]
    prep = prepare_seconds(make_settings(f"{name}-prep"), related)
    ours_s, anchor_s, inside = median(ours), median(anchor), median(model_s)
    return {
        "corpus": name, "chunks": chunks, "embedded": embedded, "repeats": repeats, "batch_size": batch_size(embeddings),
        "ingest_s": round(ours_s, 3), "raw_encode_s": round(anchor_s, 3),
        "chunks_per_s": round(chunks / ours_s, 1), "raw_chunks_per_s": round(len(texts) / anchor_s, 1),
        "ratio_to_raw": ratio(anchor_s, ours_s),  # throughput ratio = raw time / our time
        "breakdown_s": {"read_and_chunk": round(prep, 3), "model": round(inside, 3),
                        "store_and_records": round(max(0.0, ours_s - inside - prep), 3)},
        "samples": {"ingest_s": [round(x, 3) for x in ours], "raw_encode_s": [round(x, 3) for x in anchor]},
    }


def reingest_in_process(settings, *, related: bool, repeats: int = 3) -> dict:
    """An unchanged corpus ingested again in a process that already ingested it (imports warm)."""
    from assistant.ingest import ingest

    runs = [ingest(settings, related=related) for _ in range(repeats)]
    return {"embedded": max(r.embedded for r in runs), "seconds": round(median([r.seconds for r in runs]), 3),
            "samples_s": [r.seconds for r in runs]}


def reingest_command(settings, *, related_dir: Path | None, if_stale: bool = False) -> dict:
    """`assistant ingest` run again as a fresh command on the unchanged corpus: its reported seconds and
    the whole process's wall time (interpreter start and imports included)."""
    cmd = [sys.executable, "-m", "assistant.cli", "ingest", "--json"]
    if related_dir:
        cmd += ["--related-dir", str(related_dir)]
    if if_stale:
        cmd.append("--if-stale")
    env = child_env(ASSISTANT_INDEX_DIR=str(settings.index_dir), ASSISTANT_CORPUS_DIR=str(settings.corpus_dir))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"assistant ingest failed: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    return {"embedded": report["embedded"], "reported_s": report["seconds"], "process_wall_s": round(wall, 3),
            "skipped_stale_check": report["skipped_stale_check"]}
