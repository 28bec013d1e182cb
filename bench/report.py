"""results.json -> BENCHMARKS.md (tables) and the chart of latency and memory vs corpus size.

The "## Load test" section of an existing BENCHMARKS.md is carried over unchanged (it is written by
hand from the reliability load test), so regenerating the tables never loses it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CHART = "latency_vs_corpus.png"
LOAD_TEST_PLACEHOLDER = ("## Load test\n\n_Placeholder: the reliability load test (concurrent users against the UI) "
                         "is merged here from its own run._\n")


def write_results(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


def _f(x, fmt="{:.1f}", none="–"):
    return none if x is None else fmt.format(x)


def _x(x):
    return _f(x, "{:.2f}x")


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _open(results: dict, key: str, title: str) -> tuple[dict | None, str]:
    """A section's figures (None when the stage did not run or failed) and its heading, plus why when None."""
    sec = results.get(key)
    text = f"## {title}\n\n"
    if sec is None:
        return None, text + "_Not run in this profile._\n"
    if "error" in sec:
        return None, text + f"_This stage failed in this run: `{sec['error']}`_\n"
    return (sec or None), text


def chart(results: dict, path: Path) -> bool:
    """Retrieval p50/p95 (hybrid and raw dense) and memory/disk against corpus size; False if no data."""
    rows = (results.get("scale") or {}).get("rows") or []
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = sorted(rows, key=lambda r: r["chunks"])
    xs = [r["chunks"] for r in rows]
    projected = [r for r in rows if r["kind"] == "projected"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label, style, color in (("hybrid", "hybrid, as the chain runs it", "-o", "tab:blue"),
                                     ("dense_raw", "raw dense (embed + Chroma)", "--s", "tab:green")):
        for stat, alpha in (("p50_ms", 1.0), ("p95_ms", 0.4)):
            ax.plot(xs, [r["query"][key][stat] for r in rows], style, color=color, alpha=alpha, label=f"{label}, {stat[:3]}")
    for r in projected:
        ax.plot([r["chunks"]] * 2, [r["query"]["hybrid"]["p50_ms"], r["query"]["dense_raw"]["p50_ms"]], "o",
                mfc="none", mec="black", ms=12, label="store from perturbed real vectors")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("warm retrieval latency, ms")
    ax.set_title("Retrieval latency vs corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax2.plot(xs, [r["query"]["peak_rss_mb"] for r in rows], "-o", label="peak RSS, loading + querying")
    measured = [r for r in rows if r["kind"] == "measured" and r["ingest"].get("peak_rss_mb")]
    if measured:
        ax2.plot([r["chunks"] for r in measured], [r["ingest"]["peak_rss_mb"] for r in measured], "-^", label="peak RSS, ingesting")
    ax2.plot(xs, [r["index_mb"] for r in rows], "--s", label="index on disk")
    ax2.set_xscale("log")
    ax2.set_xlabel("chunks in the index")
    ax2.set_ylabel("MB")
    ax2.set_title("Memory and disk vs corpus size")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _pos: ""))
    thousands = FuncFormatter(lambda v, _pos: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}")
    for a in (ax, ax2):
        a.set_xticks(xs)
        a.xaxis.set_major_formatter(thousands)
        a.xaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))
    m = results.get("machine", {})
    fig.suptitle(f"Stack Assistant, {results.get('profile')} run, {m.get('cpus')} CPU cores ({(m.get('cpu') or '')[:48]})",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _kept_section(existing: Path, title: str, default: str = "") -> str:
    """A section written by another tool, carried over from the existing BENCHMARKS.md."""
    if existing.is_file():
        text = existing.read_text(encoding="utf-8")
        m = re.search(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", text, re.M | re.S)
        if m:
            return m.group(0).rstrip() + "\n"
    return default


def _load_test_section(existing: Path) -> str:
    return _kept_section(existing, "Load test", LOAD_TEST_PLACEHOLDER)


def markdown(results: dict, chart_rel: str | None, load_test: str = LOAD_TEST_PLACEHOLDER, cold_start: str = "") -> str:
    m = results.get("machine", {})
    ps = results.get("profile_settings") or {}
    sizes = ""
    if ps:
        rows = (results.get("scale") or {}).get("rows") or []
        measured = [r["chunks"] for r in rows if r.get("kind") == "measured"] or ps.get("scale_measured", [])
        projected = [r["chunks"] for r in rows if r.get("kind") == "projected"] or ps.get("scale_projected", [])
        budget = f" (the sizes the {ps['budget_s'] / 60:.0f}-min budget allowed)" if ps.get("budget_s") else ""
        sizes = (f" Sizes{budget}: scale measured {', '.join(f'{n:,}' for n in measured)} chunks, projected "
                 f"{', '.join(f'{n:,}' for n in projected) or 'none'}; ingestion runs {ps.get('ingest_repeats')}; "
                 f"LLM {', '.join(ps.get('llm_models', [])) or 'none'} on {ps.get('llm_questions')} questions x up to "
                 f"{ps.get('llm_repeats')} repeats (budget permitting).")
    out = ["# Benchmarks\n",
           f"Generated by `{results.get('command', 'assistant bench')}` ({results.get('profile')} profile) on "
           f"{results.get('date')}; raw figures in "
           f"[`{results.get('results_path', 'bench/results.json')}`]({results.get('results_path', 'bench/results.json')})."
           f"{sizes} Run `assistant bench` (full, ~15 min on 2 cores) or `assistant bench --quick` (~2 min) to "
           "regenerate it.\n",
           f"**Machine:** {m.get('cpus')} CPU cores ({m.get('cpu')}), {m.get('ram_gb')} GB RAM, Python {m.get('python')}, "
           f"{m.get('platform')}. Load average at start {m.get('load_avg_start')}, at end {m.get('load_avg_end')}"
           f"{' — other jobs were running, so absolute figures are noisy; the ratios are the signal' if _busy(m) else ''}. "
           f"Whole run: {results.get('total_s', 0) / 60:.1f} min.\n",
           "Every comparison is a ratio measured in the same run, side by side (alternating which side goes first), "
           "and every figure is a median over repeated runs, so a slow or busy machine moves both sides together. "
           "Each anchor is the raw thing our code wraps: the embedding model's own `encode`, Chroma's own query, "
           "llama.cpp's own chat completion.\n"]
    out.append(_targets(results))
    out.append(_ingestion(results))
    out.append(_scale(results, chart_rel))
    out.append(_retrieval(results))
    out.append(_answers(results))
    out.append(_startup(results))
    out.append(_peer(results))
    out.append(cold_start)
    out.append(load_test)
    out.append(_notes(results))
    return "\n".join(out)


def _busy(m: dict) -> bool:
    loads = [x for x in (m.get("load_avg_start") or [])[:1] + (m.get("load_avg_end") or [])[:1]]
    return bool(loads) and max(loads) > (m.get("cpus") or 1) * 0.75


def _targets(results: dict) -> str:
    rows = [[t["name"], t["target"], t["measured"], "met" if t["met"] else "**missed**", t["note"]]
            for t in results.get("targets", [])]
    return "## Targets\n\n" + (_table(["target", "goal", "measured", "", "why / what would close it"], rows) if rows else "_None measured._\n")


def _ingestion(results: dict) -> str:
    sec, text = _open(results, "ingestion", "Ingestion")
    if sec is None:
        return text
    text += (f"Through the real path (`assistant.ingest.ingest`: read, chunk, embed, write Chroma and the record "
             f"manager) into an empty index, against the anchor `SentenceTransformer.encode` on the same chunk texts "
             f"at the same batch size ({sec['corpora'][0]['batch_size']}). The model was loaded once beforehand "
             f"({sec['model_load_s']:.1f} s, not counted).\n\n")
    rows = [[c["corpus"], c["chunks"], _f(c["ingest_s"], "{:.2f} s"), _f(c["chunks_per_s"]), _f(c["raw_chunks_per_s"]),
             _x(c["ratio_to_raw"]), f"{c['breakdown_s']['read_and_chunk']:.2f} / {c['breakdown_s']['model']:.2f} / "
             f"{c['breakdown_s']['store_and_records']:.2f}", c["repeats"]] for c in sec["corpora"]]
    text += _table(["corpus", "chunks", "ingest", "chunks/s", "raw encode chunks/s", "ratio", "read+chunk / model / store (s)",
                    "runs"], rows)
    text += "\nRe-ingest of the unchanged guide + related corpus:\n\n"
    rows = []
    if sec.get("reingest_command"):
        r = sec["reingest_command"]
        rows.append(["fresh `assistant ingest` (what a user runs)", r["embedded"], _f(r["reported_s"], "{:.2f} s"),
                     _f(r["process_wall_s"], "{:.2f} s")])
    if sec.get("reingest_if_stale"):
        r = sec["reingest_if_stale"]
        rows.append(["fresh `assistant ingest --if-stale` (`make run`)", r["embedded"], _f(r["reported_s"], "{:.2f} s"),
                     _f(r["process_wall_s"], "{:.2f} s")])
    if sec.get("reingest_in_process"):
        r = sec["reingest_in_process"]
        rows.append(["`ingest()` again in a warm process", r["embedded"], _f(r["seconds"], "{:.2f} s"), "–"])
    return text + _table(["how", "embedded", "ingest's own seconds", "whole process"], rows)


def _scale(results: dict, chart_rel: str | None) -> str:
    sec, text = _open(results, "scale", "Scale")
    if sec is None:
        return text
    text += ("Synthetic corpora generated on the fly from the related docs (each variant swaps about a quarter of the "
             "words for same-length words, seeded, so chunk count and size match the originals and every chunk is "
             "new), plus the guide. **Measured** rows went through the real ingest path with the real model. The "
             "**projected** row could not be embedded within the run's budget (at the measured rate it alone would take "
             "most of it): its store holds the real vectors of the largest measured index plus seeded perturbations of "
             "them (cosine ~0.85 to their source), with perturbed texts and the same metadata, inserted straight into "
             "the Chroma collection with record-manager rows — so its index size, memory and retrieval latency are "
             "real, and only its ingest time is *extrapolated* linearly from the measured rate.\n\n")
    rows = []
    for r in sorted(sec["rows"], key=lambda r: r["chunks"]):
        ing, q = r["ingest"], r["query"]
        if r["kind"] == "measured":
            ingest = f"{ing['ingest_s']:.1f} s ({ing['chunks_per_s']:.0f}/s, {_x(ing['ratio_to_raw'])} raw)"
            peak_ing = _f(ing["peak_rss_mb"], "{:.0f}")
            sentences = (f"{ing['sentences_s']:.1f} s, {ing['sentences_embedded']:,}, {ing['sentences_mb']:.1f} MB"
                         if "sentences_s" in ing else "–")  # results written before the re-ranker have none
        else:
            ingest = f"~{ing['ingest_s_extrapolated']:.0f} s *extrapolated* at {ing['extrapolated_rate']:.0f}/s"
            peak_ing, sentences = "–", "– (none: embedded on first use)"
        rows.append([f"{r['chunks']:,}", r["kind"], ingest, sentences, _f(r["index_mb"]), peak_ing, _f(q["peak_rss_mb"], "{:.0f}"),
                     _f(q["load_s"], "{:.1f} s"),
                     f"{q['hybrid']['p50_ms']:.1f} / {q['hybrid']['p95_ms']:.1f}",
                     f"{q['dense_raw']['p50_ms']:.1f} / {q['dense_raw']['p95_ms']:.1f}", _x(q["ratio_p50"])])
    text += _table(["chunks", "", "ingest", "of which sentence vectors (time, sentences, file)", "index MB", "peak RSS ingest MB", "peak RSS serving MB", "index load",
                    "hybrid p50 / p95 ms", "raw dense p50 / p95 ms", "hybrid / dense p50"], rows)
    text += ("\nPeak RSS is each child process's own high-water mark (VmHWM): *ingest* includes the embedding model; "
             "*serving* is loading the index as the app does (all chunks for BM25, the Chroma store, the model) "
             "plus the retrieval runs. *Index load* is reading every chunk and its metadata from Chroma plus building "
             "the BM25 index, as the app does at start-up (the embedding model's own load is not in it).\n")
    if chart_rel:
        text += f"\n![Retrieval latency and memory vs corpus size]({chart_rel})\n"
    return text


def _retrieval(results: dict) -> str:
    sec, text = _open(results, "retrieval", "Retrieval")
    if sec is None:
        return text
    text += (f"Warm, on the {sec.get('corpus', 'guide + related')} index ({sec['chunks']} chunks), {sec['hybrid']['n']} calls per side over "
             f"{sec['questions']} questions: hybrid is `HybridRetriever.invoke` exactly as the chain calls it (dense "
             f"+ BM25, fusion, factor rows first); raw dense is the query embedding plus one Chroma query for the "
             f"same `fetch_k`.\n\n")
    rows = [["hybrid (ours)", _f(sec["hybrid"]["p50_ms"]), _f(sec["hybrid"]["p95_ms"])],
            ["raw dense (anchor)", _f(sec["dense_raw"]["p50_ms"]), _f(sec["dense_raw"]["p95_ms"])],
            ["ratio", _x(sec["ratio_p50"]), _x(sec["ratio_p95"])]]
    text += _table(["", "p50 ms", "p95 ms"], rows)
    p = sec.get("parts_p50_ms", {})
    text += (f"\nWhere the hybrid's time goes (p50): query embedding {p.get('query_embedding', 0):.1f} ms, whole dense "
             f"side {p.get('dense_side', 0):.1f} ms, BM25 side {p.get('bm25_side', 0):.1f} ms; the rest is fusion and "
             "building the returned Documents. The same ratio at 1k-100k chunks is in the Scale table.\n")
    omp = results.get("openmp")
    if omp and "error" not in omp:
        text += ("\nOpenMP wait policy (torch and llama.cpp each load an OpenMP runtime; the product sets PASSIVE): "
                 "the embedding model in fresh processes, alternating policies.\n\n")
        text += _table(["OMP_WAIT_POLICY", "query embedding p50 / p95 ms", "batch encode chunks/s", "runs"],
                       [[p, f"{omp[p]['query_p50_ms']:.1f} / {omp[p]['query_p95_ms']:.1f}", _f(omp[p]["chunks_per_s"]),
                         omp[p]["runs"]] for p in ("ACTIVE", "PASSIVE")])
        text += (f"\nPASSIVE / ACTIVE: query p50 {_x(omp['passive_vs_active_query_p50'])}, encode throughput "
                 f"{_x(omp['passive_vs_active_encode'])}.\n")
    th = sec.get("query_embedding_threads")
    if th:
        text += (f"\nQuery embedding alone, torch's default {th['default_threads']} threads vs 1 thread (alternating): "
                 f"p50 {th['p50_ms_default']:.1f} vs {th['p50_ms_one_thread']:.1f} ms, p95 {th['p95_ms_default']:.1f} vs "
                 f"{th['p95_ms_one_thread']:.1f} ms.\n")
    return text


def _answers(results: dict) -> str:
    sec, text = _open(results, "answers", "Answers")
    if sec is None:
        return text
    ext = sec.get("extractive")
    if ext:
        text += (f"Through the whole chain (`Assistant.ask`, as the CLI and UI run it), warm, {ext['total']['n']} answers "
                 f"over {ext['questions']} questions.\n\n")
        text += _table(["engine", "p50 ms", "p95 ms", "of which retrieval p50 ms", "refused"],
                       [["extractive", _f(ext["total"]["p50_ms"]), _f(ext["total"]["p95_ms"]), _f(ext["retrieve"]["p50_ms"]),
                         f"{ext['refused_share']:.0%}"]])
    llm = [r for r in sec.get("llm", []) if "ours" in r]
    if llm:
        text += ("\nLocal LLMs: ours is the whole chain streaming through `ChatLlamaCpp` (time to first token counted "
                 "from the question, so retrieval and prompt building are inside it); the anchor sends the identical "
                 "messages (the chain's own passage selection) to llama.cpp directly "
                 "(`Llama.create_chat_completion(stream=True)` on a `Llama` built with our instance's own parameters, "
                 "same sampling parameters). Ratios are medians of per-pair ratios (each pair back to back on one "
                 "question). *Same work* compares the time to the last token ours streamed with llama.cpp's time to "
                 "that same token, so it stays fair when the chain's guard stops a generation early (a small model "
                 "replaying its prompt); *total* uses only pairs where ours ran to the end.\n\n")
        rows = []
        for r in llm:
            o, a = r["ours"], r["anchor"]
            total = (f"{o['total_p50_s']:.1f} / {a['total_p50_s']:.1f} ({_x(r['ratio_total'])}, {r['complete_pairs']} pairs)"
                     if r.get("ratio_total") else f"– (ours stopped early in all {r['runs']})")
            rows.append([r["engine"], _f(r.get("prompt_tokens_p50"), "{:.0f}"),
                         f"{o['ttft_p50_s']:.2f} / {a['ttft_p50_s']:.2f} ({_x(r['ratio_ttft'])})", _x(r.get("ratio_same_work")),
                         total, f"{_f(o['tokens_per_s_p50'])} / {_f(a['tokens_per_s_p50'])} ({_x(r['ratio_tokens_per_s'])})",
                         _f(a["tokens_p50"], "{:.0f}"), r["runs"], f"{r['same_output']}/{r['runs']}",
                         f"{r.get('stopped_early', 0)}/{r['runs']}"])
        text += _table(["engine", "prompt tokens", "first token s, ours / llama.cpp", "same work", "total s, ours / llama.cpp",
                        "tokens/s, ours / llama.cpp", "llama.cpp answer tokens", "pairs", "identical text",
                        "ours stopped early"], rows)
        p = llm[0]["params"]
        text += (f"\nn_ctx {p.get('n_ctx')}, n_batch {p.get('n_batch')}, max_tokens {p.get('max_tokens')}, temperature "
                 f"{p.get('temperature')}, threads = CPU count.\n")
    for r in sec.get("llm", []):
        if "skipped" in r or "error" in r:
            text += f"\n- {r['engine']}: {r.get('skipped') or r.get('error')}\n"
    return text


def _startup(results: dict) -> str:
    sec, text = _open(results, "startup", "Start-up and memory")
    if sec is None:
        return text
    text += ("`python app.py` with an existing guide + related index: process start to HTTP 200 on the page (UI "
             "ready; the assistant keeps loading in the background), and to the first answer over the page's `/chat` "
             "API with that engine (assistant, and for a local engine the model, loaded). Peak RSS is the app "
             "process's VmHWM after that answer")
    rows = sec.get("rows", [])
    if any(r["engine"] != "extractive" for r in rows):
        text += f" (LLM answers capped at {rows[-1]['max_tokens']} tokens here: memory, not speed, is measured)"
    text += ".\n\n"
    text += _table(["engine", "UI ready (HTTP 200)", "first answer", "RSS at HTTP 200 MB", "peak RSS MB", "runs"],
                   [[r["engine"], _f(r["http_200_s"], "{:.1f} s"), _f(r["first_answer_s"], "{:.1f} s"),
                     _f(r["rss_at_http_200_mb"], "{:.0f}"), _f(r["peak_rss_mb"], "{:.0f}"), r["runs"]] for r in rows])
    if sec.get("import_gradio_s"):
        text += (f"\nAnchor: a fresh Python that only runs `import gradio` takes {sec['import_gradio_s']:.1f} s here, so UI "
                 f"ready is {_x(sec['ratio_ui_ready_to_import_gradio'])} the UI framework's own import. The rest is "
                 "building the page and starting the server while the background loader (LangChain, chromadb, "
                 "onnxruntime, the index) competes for the same two cores and the GIL.\n")
    return text


def _peer(results: dict) -> str:
    sec, text = _open(results, "peer", "Peer row: the naive tutorial pipeline")
    if sec is None:
        return text
    ours = (results.get("answers") or {}).get("extractive") or {}
    ret = results.get("retrieval") or {}
    text += (f"`RecursiveCharacterTextSplitter(1000, 200)` + dense top-4 over the same sources and embeddings "
             f"(`{sec['pipeline']}`), extractive answer = the top chunk's first two sentences; same questions.\n\n")
    rows = [["naive tutorial", sec["chunks"], _f(sec["build_s"], "{:.1f} s"),
             f"{sec['retrieve_top4']['p50_ms']:.1f} / {sec['retrieve_top4']['p95_ms']:.1f}",
             f"{sec['answer_extractive']['p50_ms']:.1f} / {sec['answer_extractive']['p95_ms']:.1f}"]]
    if ours and ret and "hybrid" in ret:
        ing = next((c for c in (results.get("ingestion") or {}).get("corpora", []) if c["corpus"] == "guide+related"), None)
        rows.append(["Stack Assistant", ret.get("chunks"), _f(ing["ingest_s"], "{:.1f} s") if ing else "–",
                     f"{ret['hybrid']['p50_ms']:.1f} / {ret['hybrid']['p95_ms']:.1f}",
                     f"{ours['total']['p50_ms']:.1f} / {ours['total']['p95_ms']:.1f}"])
    text += _table(["pipeline", "chunks", "index build", "retrieval p50 / p95 ms", "extractive answer p50 / p95 ms"], rows)
    text += "\nAnswer quality of the two is compared by the eval harness (`assistant eval`), not here.\n"
    return text


def _notes(results: dict) -> str:
    text = "## What the ratios say, and what changed because of them\n\n"
    for note in results.get("notes", []):
        text += f"- {note}\n"
    return text


def write_all(results: dict, out_dir: Path, markdown_path: Path) -> dict:
    """Write results.json, the chart and the markdown; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    chart_path = out_dir / CHART
    has_chart = chart(results, chart_path)
    try:
        results["results_path"] = str(results_path.relative_to(markdown_path.parent))
        chart_rel = str(chart_path.relative_to(markdown_path.parent)) if has_chart else None
    except ValueError:
        results["results_path"] = str(results_path)
        chart_rel = str(chart_path) if has_chart else None
    write_results(results, results_path)
    from .coldstart import existing_section, section

    cold = section(results["coldstart"]) if "coldstart" in results else (existing_section(markdown_path) or "")
    text = markdown(results, chart_rel, _load_test_section(markdown_path), cold)
    # Written by hand: bench/llama_build.py runs, and the model comparison of eval/models.md.
    for kept in (_kept_section(markdown_path, "llama.cpp builds"), _kept_section(markdown_path, "Models")):
        if kept:
            text = text.rstrip() + "\n\n" + kept
    markdown_path.write_text(text, encoding="utf-8")
    return {"results": str(results_path), "chart": str(chart_path) if has_chart else None, "markdown": str(markdown_path)}
