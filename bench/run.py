"""The benchmark run: profiles, the order of the stages, the budget, the summary.

`run(profile, out_dir, markdown_path)` does everything and writes results.json, the chart and
BENCHMARKS.md. A stage that fails is recorded with its error and the others still run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .measure import ROOT, load_avg, machine
from .settings import bench_settings


@dataclass(frozen=True)
class Profile:
    name: str
    ingest_repeats: int = 2
    scale_measured: tuple[int, ...] = (1_000, 10_000)  # above 2,000 measured only as far as the budget allows
    scale_projected: tuple[int, ...] = (100_000,)
    anchor_sample: int = 1_000  # raw-encode anchor on a seeded sample of this many of the same chunk texts
    retrieval_rounds: int = 3
    answer_rounds: int = 3
    llm_models: tuple[str, ...] = ("qwen-0.5b", "qwen-1.5b")
    llm_questions: int = 3
    llm_repeats: int = 2
    llm_max_tokens: int | None = None  # None: the product's setting
    startup_engines: tuple[str, ...] = ("extractive", "local:qwen-0.5b", "local:qwen-1.5b")
    startup_repeats: int = 2
    ingest_related: bool = True  # ingest guide + related too (else the guide alone, which then serves everything)
    peer: bool = True
    isolate_scale: bool = True  # a child process per scale step (its own peak RSS); False: in this process
    budget_s: float = 14 * 60  # the whole run; sizes and optional repeats adapt to stay inside it
    reserve_s: float = 180  # kept for the LLM and start-up stages that run after the scale stage
    questions: int = 0  # how many of bench.questions.QUESTIONS (0: all)
    openmp_repeats: int = 1  # child-process pairs for the OpenMP wait-policy diagnostic (0: skip)
    coldstart_repeats: int = 5  # fresh-process cold starts (ask, --help, app.py) per figure (0: skip)


FULL = Profile("full")
QUICK = Profile("quick", ingest_repeats=1, scale_measured=(200,), scale_projected=(2_000,), retrieval_rounds=1,
                answer_rounds=1, llm_models=("qwen-0.5b",), llm_questions=1, llm_repeats=1, llm_max_tokens=48,
                startup_engines=("extractive",), startup_repeats=1, ingest_related=False, peer=False,
                isolate_scale=False, openmp_repeats=0, budget_s=110, reserve_s=40, coldstart_repeats=1)
# Tests: the code paths on tiny sizes, in process, without LLMs or the app.
TINY = Profile("tiny", ingest_repeats=1, scale_measured=(40,), scale_projected=(120,), questions=3, retrieval_rounds=1,
               answer_rounds=1, llm_models=(), startup_engines=(), startup_repeats=1, ingest_related=False, peer=False,
               isolate_scale=False, openmp_repeats=0, budget_s=120, reserve_s=0, coldstart_repeats=0)
PROFILES = {p.name: p for p in (FULL, QUICK, TINY)}


@dataclass
class Context:
    work: Path
    corpus_dir: Path
    related_dir: Path | None
    models_dir: Path
    chunk_tokens: int
    questions: list[str]
    t0: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def default_models_dir() -> Path:
    """Where the assembled GGUF models are: the user's setting (ASSISTANT_MODEL_CACHE_DIR or .env), else
    index/models; a relative path is taken from the project root."""
    from assistant.config import load_settings

    path = load_settings().models_dir
    return path if path.is_absolute() else ROOT / path


def run(profile: Profile, out_dir: Path, markdown_path: Path, *, related_dir: Path | None = None,
        corpus_dir: Path | None = None, models_dir: Path | None = None, log=print, command: str | None = None) -> dict:
    from . import report, targets
    from .questions import LLM_QUESTIONS, QUESTIONS

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    corpus_dir = corpus_dir or ROOT / "corpus"
    if related_dir is None:
        candidate = (ROOT / ".." / "shared" / "related").resolve()
        related_dir = candidate if candidate.is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="sa-bench-"))
    ctx = Context(work, corpus_dir, related_dir, models_dir or default_models_dir(), bench_settings().chunk_tokens,
                  list(QUESTIONS[:profile.questions or None]))
    results: dict = {"profile": profile.name, "command": command or {"full": "assistant bench", "quick": "assistant bench --quick"}
                     .get(profile.name, f"bench.run.run (profile {profile.name!r})"),
                     "profile_settings": {k: v for k, v in profile.__dict__.items() if k != "name"},
                     "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(), "stage_s": {}}
    state: dict = {}

    def stage(name, fn):
        log(f"[bench] {name} ... (t+{ctx.elapsed():.0f} s)")
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # noqa: BLE001 - one failed stage must not lose the others
            results[name] = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
            log(traceback.format_exc())
        results["stage_s"][name] = round(time.perf_counter() - t0, 1)

    try:
        stage("ingestion", lambda: _ingestion(profile, ctx, state))
        if "index" in state:
            stage("retrieval", lambda: _retrieval(profile, ctx, state))
            stage("answers", lambda: _answers(profile, ctx, state))
            if profile.peer and ctx.related_dir:
                stage("peer", lambda: _peer(profile, ctx, state))
        if profile.openmp_repeats and ctx.related_dir:
            stage("openmp", lambda: _openmp(profile, ctx))
        stage("scale", lambda: _scale(profile, ctx))
        if "index" in state and profile.llm_models:
            stage("answers_llm", lambda: _answers_llm(profile, ctx, state, LLM_QUESTIONS))
        if "index" in state and profile.startup_engines:
            stage("startup", lambda: _startup(profile, ctx, state))
        if "index" in state and profile.coldstart_repeats:
            stage("coldstart", lambda: _coldstart(profile, ctx, state, log))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    llm = results.pop("answers_llm", None)
    if isinstance(results.get("answers"), dict) and "error" not in results["answers"]:
        results["answers"]["llm"] = llm if isinstance(llm, list) else ([{"engine": "local", **llm}] if llm else [])
    results["machine"]["load_avg_end"] = load_avg()
    results["total_s"] = round(ctx.elapsed(), 1)
    results["targets"] = targets.check(results)
    results["notes"] = notes(results)
    results["paths"] = report.write_all(results, out_dir, markdown_path)
    return results


# -- stages ----------------------------------------------------------------------------------------

def _ingestion(profile: Profile, ctx: Context, state: dict) -> dict:
    from .ingestion import load_model, measure_corpus, reingest_command, reingest_in_process

    load_s, emb = load_model()
    state["embeddings"] = emb
    corpora = [("guide", False)] + ([("guide+related", True)] if ctx.related_dir and profile.ingest_related else [])
    out = {"model_load_s": round(load_s, 2), "corpora": []}
    for name, related in corpora:
        def settings_for(tag, related=related):
            return bench_settings(index_dir=ctx.work / f"ingest-{tag}", corpus_dir=ctx.corpus_dir,
                                  related_dir=ctx.related_dir if related else None)

        out["corpora"].append(measure_corpus(name, settings_for, emb, related=related, repeats=profile.ingest_repeats))
        state["settings"] = settings_for(f"{name}-r{profile.ingest_repeats - 1}")
        state["related"] = related
    state["index"] = state["settings"].index_dir
    s = state["settings"]
    out["reingest_in_process"] = reingest_in_process(s, related=state["related"])
    out["reingest_command"] = reingest_command(s, related_dir=s.related_dir)
    out["reingest_if_stale"] = reingest_command(s, related_dir=s.related_dir, if_stale=True)
    return out


def _retrieval(profile: Profile, ctx: Context, state: dict) -> dict:
    from assistant.knowledge import load_knowledge
    from assistant.retrieval import build_retriever

    from .scale import measure_retrieval, query_embedding_threads

    kb = load_knowledge(state["settings"], embeddings=state["embeddings"])
    state["kb"] = kb
    out = measure_retrieval(kb, build_retriever(kb), ctx.questions, profile.retrieval_rounds)
    out["query_embedding_threads"] = query_embedding_threads(kb.store.embeddings, ctx.questions, profile.retrieval_rounds)
    out.update(chunks=len(kb.docs), questions=len(ctx.questions), corpus="guide + related" if state["related"] else "guide")
    return out


def _answers(profile: Profile, ctx: Context, state: dict) -> dict:
    from assistant.service import Assistant

    from .answers import extractive

    assistant = Assistant(state["settings"], kb=state["kb"])
    return {"extractive": extractive(assistant, ctx.questions, profile.answer_rounds), "llm": []}


def _answers_llm(profile: Profile, ctx: Context, state: dict, llm_questions: list[str]) -> list[dict]:
    from assistant.engines import local_status
    from assistant.gguf_models import local_available

    from .worker import run_task

    rows = []
    models = list(profile.llm_models)
    for i, model in enumerate(models):
        ok, why = local_status()
        if ok:
            ok, why = local_available(model)
        if not ok:
            rows.append({"engine": f"local:{model}", "skipped": why})
            continue
        # Every question once is the minimum; further repeats start only while the run stays in budget
        # (a share of what is left, keeping room for the start-up stage).
        reserve = 30 * len(profile.startup_engines)
        left = profile.budget_s - ctx.elapsed() - reserve
        budget = max(0.0, left / (len(models) - i) * 0.6)
        try:
            rows.append(run_task("llm_answers", {
                "model": model, "index_dir": str(state["index"]), "corpus_dir": str(ctx.corpus_dir),
                "models_dir": str(ctx.models_dir), "questions": llm_questions[:profile.llm_questions],
                "repeats": profile.llm_repeats, "budget_s": budget, "max_tokens": profile.llm_max_tokens}))
        except Exception as exc:  # noqa: BLE001 - the other model still runs
            rows.append({"engine": f"local:{model}", "error": f"{type(exc).__name__}: {str(exc)[-600:]}"})
    return rows


def _peer(profile: Profile, ctx: Context, state: dict) -> dict:
    from .peer import run_peer

    return run_peer(state["settings"], state["embeddings"], ctx.questions, profile.answer_rounds, ctx.work)


def _openmp(profile: Profile, ctx: Context) -> dict:
    from .openmp import run_probe
    from .worker import run_task

    return run_probe(ctx.related_dir, ctx.questions, profile.openmp_repeats, run_task)


def _scale(profile: Profile, ctx: Context) -> dict:
    from .scale import run_scale
    from .worker import run_task

    return run_scale(profile, ctx, lambda name, args: run_task(name, args, isolate=profile.isolate_scale))


def _startup(profile: Profile, ctx: Context, state: dict) -> dict:
    from assistant.engines import local_status
    from assistant.gguf_models import local_available

    from .questions import FIRST_QUESTION
    from .startup import run_startup

    engines = []
    for spec in profile.startup_engines:
        if spec.startswith("local:") and not (local_status()[0] and local_available(spec.split(":", 1)[1])[0]):
            continue
        engines.append(spec)
    return run_startup(state["index"], ctx.corpus_dir, engines, FIRST_QUESTION, repeats=profile.startup_repeats,
                       models_dir=ctx.models_dir)


def _coldstart(profile: Profile, ctx: Context, state: dict, log) -> dict:
    from .coldstart import run_coldstart

    return run_coldstart(state["index"], ctx.corpus_dir, repeats=profile.coldstart_repeats, log=log)


# -- the closing notes -------------------------------------------------------------------------------

PRODUCT_CHANGES = [
    "Changed because of these figures: torch and llama.cpp each load an OpenMP runtime whose idle threads spin "
    "(ACTIVE wait policy). On the busy 2-core dev machine that made a single query embedding 5-10x slower (p50 "
    "~200-330 ms vs ~30-45 ms with PASSIVE, encode throughput unchanged), and llama.cpp called on a thread that had "
    "run torch 4-15x slower (the chain's LLM worker thread happened to avoid it). `build_embeddings` now sets "
    "`OMP_WAIT_POLICY=PASSIVE` unless the environment sets it (the OpenMP table above re-measures both policies).",
    "Changed because of these figures: an unchanged re-ingest used to import torch and load the embedding model "
    "before finding that nothing changed (measured ~13-16 s for a fresh `assistant ingest` on the busy dev machine, "
    "where the ingest's own work is well under a second). `assistant.embeddings.LazyEmbeddings` now loads the model "
    "on the first chunk that needs embedding, so an unchanged corpus never loads it; `ingest()` also accepts an "
    "`embeddings=` argument (the benchmark times the model through it).",
    "Changed because of these figures: ingestion ran at 0.77x the raw encode at 10k chunks (20 chunks/s). The "
    "model pads every batch to its longest text and sorts by length only within one call, and ingest handed it "
    "128 chunks per call in text order (+51% padded tokens over the real ones). Ingest now hands chunks over "
    "shortest first and the embedding batch is 16 instead of 64: 34 chunks/s at 10k chunks, 0.98x the anchor.",
]


def notes(results: dict) -> list[str]:
    """One line per ratio, then what changed in the product."""
    out = []
    scale = [r for r in (results.get("scale") or {}).get("rows", []) if r.get("kind") == "measured"]
    if scale:
        r = max(scale, key=lambda r: r["chunks"])
        out.append(f"Ingestion runs at {r['ingest']['ratio_to_raw']:.2f}x the model's own encode speed at "
                   f"{r['chunks']:,} chunks ({r['ingest']['chunks_per_s']:.0f} vs {r['ingest']['raw_chunks_per_s']:.0f} "
                   "chunks/s): the model is the cost; chunking and the store add the rest.")
    ret = results.get("retrieval") or {}
    if "hybrid" in ret:
        out.append(f"Hybrid retrieval costs {ret['ratio_p50']:.2f}x raw dense at p50 on the real corpus; the extra is "
                   f"BM25 ({ret['parts_p50_ms'].get('bm25_side', 0):.1f} ms) and fusion; the query embedding "
                   f"({ret['parts_p50_ms'].get('query_embedding', 0):.1f} ms) dominates both.")
    for row in (results.get("answers") or {}).get("llm", []) or []:
        if "ours" in row:
            out.append(f"{row['engine']}: first token {row['ratio_ttft'] or 0:.2f}x, same work {row['ratio_same_work'] or 0:.2f}x, "
                       f"tokens/s {row['ratio_tokens_per_s'] or 0:.2f}x of llama.cpp called directly on the same prompt "
                       f"(~{row.get('prompt_tokens_p50') or '?'} tokens); in {row.get('stopped_early', 0)} of {row['runs']} runs the "
                       "chain replaced the model's answer by the cited extractive one (a prompt replay, or a claim that "
                       "the guide does not cover a question its passages answer) after the model had streamed it.")
    out += (results.get("scale") or {}).get("notes", [])
    return out + PRODUCT_CHANGES


def summary(results: dict) -> str:
    lines = [f"Benchmark ({results['profile']}) done in {results['total_s'] / 60:.1f} min on {results['machine']['cpus']} CPUs."]
    for t in results.get("targets", []):
        lines.append(f"  {'ok    ' if t['met'] else 'MISSED'} {t['name']}: {t['measured']} (goal {t['target']})")
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    for k in failed:
        lines.append(f"  stage {k} FAILED: {results[k]['error']}")
    for k, v in results.get("stage_s", {}).items():
        lines.append(f"  {k:<12} {v:>7.1f} s")
    p = results.get("paths", {})
    lines.append(f"Wrote {p.get('results')}, {p.get('markdown')}" + (f" and {p['chart']}" if p.get("chart") else ""))
    return "\n".join(lines)
