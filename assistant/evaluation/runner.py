"""Run the cases through our pipeline and the naive baseline on each engine; return the report dict.

`evaluate(settings, specs)` is what `assistant eval` and tests/test_eval.py call. Everything the
answers are judged against comes from the corpus (the factor table) and eval/cases.jsonl.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Settings
from ..errors import AssistantError, CorpusError
from ..grounding import Checker
from ..retrieval import build_retriever
from ..service import Assistant
from .dataset import Case, check_against_table, factor_table, load_cases
from .metrics import Chunk, Output, aggregate, by_type, confusion, is_refusal, per_factor, score

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CASES = REPO / "eval" / "cases.jsonl"
RETRIEVAL_K = 10


def select_cases(cases: list[Case], *, indexed: set[str], types: list[str] | None = None,
                 limit: int | None = None) -> tuple[list[Case], list[dict]]:
    """(cases to run, skipped with reasons). `limit` keeps the first N cases of each type."""
    chosen, skipped, per_type = [], [], {}
    for case in cases:
        if types and case.type not in types:
            continue
        if case.source and case.source not in indexed and Path(case.source).stem not in indexed:  # "x.md" names source "x"
            why = (f"source {case.source!r} is none of the indexed sources ({', '.join(sorted(indexed))}); fix the case's source"
                   if _has_related(indexed) else f"source {case.source!r} is not indexed (ingest with --related-dir)")
            skipped.append({"id": case.id, "reason": why})
            continue
        if limit is not None and per_type.get(case.type, 0) >= limit:
            continue
        per_type[case.type] = per_type.get(case.type, 0) + 1
        chosen.append(case)
    return chosen, skipped


def _has_related(indexed: set[str]) -> bool:
    """Were the related docs indexed (a source besides the guide and the user's own files)?"""
    return any(s != "guide" and not s.startswith("user-") for s in indexed)


def evaluate(settings: Settings, specs: list[str], *, cases_path: Path = DEFAULT_CASES, types: list[str] | None = None,
             limits: dict[str, int | None] | None = None, naive: bool = True,
             progress: Callable[[str], None] | None = None) -> dict:
    """Answer every selected case with each engine (ours, then naive) and score it. `limits` maps an
    engine spec to its per-type case limit (None = all cases)."""
    from ..embeddings import build_embeddings, model_label
    from .naive import NaivePipeline

    limits = limits or {}
    _header, rows = factor_table(settings.corpus_dir)
    table = {row.factor: row.winner for row in rows}
    all_cases = load_cases(cases_path)
    assistant = Assistant(settings)
    kb = assistant.kb
    check_against_table(all_cases, rows, [d.metadata for d in kb.factor_rows])
    indexed = {s["id"] for s in kb.manifest.get("sources", [])}
    retriever10 = build_retriever(kb, k=RETRIEVAL_K)
    sources = indexed_sources(settings, kb, indexed)
    baseline = None
    if naive:
        baseline = NaivePipeline(sources, build_embeddings(settings.embedding_model), settings.index_dir / "eval-naive",
                                 model_label(settings.embedding_model))

    runs, skipped_all = [], {}
    for spec in specs:
        cases, skipped = select_cases(all_cases, indexed=indexed, types=types, limit=limits.get(spec))
        skipped_all.update({s["id"]: s for s in skipped})
        engine = assistant.engine(spec)
        pipelines = [("ours", lambda c: _ours(assistant, retriever10, c, spec))]
        if baseline is not None:
            pipelines.append(("naive", lambda c: baseline.answer(c.question, engine)))
        for pipeline, run_case in pipelines:
            records = []
            for i, case in enumerate(cases, start=1):
                if progress:
                    progress(f"{engine.spec} {pipeline} {i}/{len(cases)} {case.id}")
                records.append(score(case, run_case(case), table))
            runs.append({"engine": engine.spec, "pipeline": pipeline, "model": model_info(spec, settings),
                         "per_type_limit": limits.get(spec), "aggregates": aggregate(records),
                         "confusion": confusion(records), "per_factor": per_factor(records), "by_type": by_type(records),
                         "records": [r.to_dict() for r in records]})
    return {"metadata": _metadata(settings, cases_path, kb, sources, rows, indexed, list(skipped_all.values())),
            "runs": runs}


def _ours(assistant: Assistant, retriever10, case: Case, spec: str) -> Output:
    kb = assistant.kb
    try:
        ans = assistant.ask(case.question, case.history, llm=spec)
    except AssistantError as exc:
        return Output("", True, [], [], [], [], 0.0, error=f"{type(exc).__name__}: {exc.problem}")
    # The ranking the answer was given (the plan's search, with its second stage), ten deep.
    top10 = retriever10.search(assistant.planner.plan(ans.standalone_question))
    passages = [kb.by_id[p.chunk_id] for p in ans.passages]
    return Output(text=ans.text, refused=is_refusal(ans.text, ans.refused), retrieved=[_chunk(d) for d in top10],
                  passages=[_chunk(d) for d in passages], cited=[c.n for c in ans.citations],
                  invalid=list(ans.invalid_citations), latency_ms=ans.timings.total_ms,
                  standalone=ans.standalone_question, error=ans.fallback_notice,
                  grounding=_checker(assistant).check(ans.text, {c.n: kb.by_id[c.chunk_id] for c in ans.citations}),
                  removed=len(ans.unsupported_sentences))


@functools.lru_cache(maxsize=2)
def _checker(assistant: Assistant) -> Checker:
    """The chain's grounding checker on the index's shared sentence vectors (one per assistant)."""
    return Checker(assistant.kb.sentence_vectors)


def _chunk(doc) -> Chunk:
    return Chunk(doc.metadata["chunk_id"], doc.metadata.get("quote") or doc.page_content)


def indexed_sources(settings: Settings, kb, indexed: set[str]) -> list:
    """The full text of every indexed source (the naive baseline splits these), checked against the
    index: every chunk's quote must be the reading text of its source at the chunk's span."""
    from ..sources import collect_corpus

    corpus = collect_corpus(settings.corpus_dir, related=_has_related(indexed), related_dir=settings.related_dir,
                            cache_dir=settings.index_dir / "related-cache", max_bytes=settings.max_file_bytes)
    texts = {d.source_id: d for d in corpus.docs if d.source_id in indexed}
    missing = sorted(indexed - texts.keys())
    if missing:
        raise CorpusError(f"The eval needs the texts of the indexed sources {', '.join(missing)}, which could not be read"
                          f" ({'; '.join(str(p) for p in corpus.problems) or 'not found'}).",
                          "Pass the folder the index was built from: assistant eval --related-dir DIR.")
    from ..chunking import quote_of

    stale = sorted({d.metadata["source_id"] for d in kb.docs
                    if quote_of(texts[d.metadata["source_id"]], d.metadata["start"], d.metadata["end"]) != d.metadata.get("quote")})
    if stale:
        raise CorpusError(f"The index does not match the corpus for {', '.join(stale)}.", "Rebuild it: assistant ingest --rebuild")
    return list(texts.values())


def model_info(spec: str, settings: Settings) -> dict | None:
    """The model file behind a local engine spec, with its sha256 (None for non-local engines)."""
    from ..engines import parse_spec
    from ..gguf_models import DEFAULT_MODEL, MODELS, _sha256_file

    name, arg = parse_spec(spec)
    if name != "local":
        return None
    model = arg or DEFAULT_MODEL
    if model in MODELS:  # assembled files are verified against this digest
        return {"name": model, "file": str(settings.models_dir / f"{model}.gguf"), "sha256": MODELS[model].sha256}
    path = Path(model).expanduser()
    return {"name": path.name, "file": str(path), "sha256": _sha256_file(path)}


def _metadata(settings: Settings, cases_path: Path, kb, sources, rows, indexed: set[str], skipped: list[dict]) -> dict:
    corpus = hashlib.sha256()
    for src in sorted(sources, key=lambda s: s.source_id):
        corpus.update(f"{src.source_id}\x00{hashlib.sha256(src.text.encode()).hexdigest()}\n".encode())
    index = hashlib.sha256("\n".join(sorted(d.metadata["chunk_id"] for d in kb.docs)).encode())
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
        "python": sys.version.split()[0],
        "cases_file": str(cases_path),
        "cases_sha256": hashlib.sha256(Path(cases_path).read_bytes()).hexdigest(),
        "corpus_sha256": corpus.hexdigest(),
        "index_sha256": index.hexdigest(),
        "collection": kb.manifest.get("collection"),
        "indexed_sources": sorted(indexed),
        "settings": settings.model_dump(mode="json", exclude={"auth"}),
        "factor_table": [{"factor": r.factor, "winner": r.winner, "line": r.line} for r in rows],
        "retrieval_k": RETRIEVAL_K,
        "skipped_cases": skipped,
    }


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
