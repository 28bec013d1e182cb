"""Answer latency per engine, through the whole chain (`Assistant.stream`, as the CLI and UI run it).

LLM engines are compared with llama.cpp itself on the identical prompt: the same messages
(`assistant.engines.llm.build_messages` over the same passages), sent with
`llama_cpp.Llama.create_chat_completion(stream=True)` to a `Llama` loaded in the bench process with
the parameters our model server child loads with, and called with the sampling parameters the
server applies — so the ratio is the cost of running the model in a supervised child over HTTP.
Calls alternate which side goes first and every call follows a different question, so both
instances reuse the same system-prompt prefix from their KV cache.
"""

from __future__ import annotations

import threading
import time

from .measure import median, peak_rss_mb, summary_ms
from .settings import bench_settings


def extractive(assistant, questions: list[str], rounds: int) -> dict:
    """Warm p50/p95 of a whole extractive answer, and how much of it is retrieval."""
    for q in questions:
        assistant.ask(q, llm="extractive")
    total, retrieve, refused = [], [], 0
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            ans = assistant.ask(q, llm="extractive")
            total.append(time.perf_counter() - t0)
            retrieve.append(ans.timings.retrieve_ms / 1000)
            refused += ans.refused
    s = summary_ms(total)
    return {"engine": "extractive", "total": s, "retrieve": summary_ms(retrieve),
            "compose_p50_ms": round(s["p50_ms"] - median(retrieve) * 1000, 3), "refused_share": round(refused / len(total), 2),
            "questions": len(questions), "rounds": rounds}


# -- local LLMs (one child process per model) ----------------------------------------------------------

def child_llm(args: dict) -> dict:
    """Ours: the chain with the `local` engine, whose model runs in its supervised llama.cpp server
    child (engines/llama_server.py). Anchor: the same GGUF loaded in this process by llama.cpp
    itself, with the server's load and sampling parameters, called on the identical messages."""
    import os

    from llama_cpp import Llama

    from assistant.engines.llm import build_messages
    from assistant.prompts import SYSTEM_PROMPT
    from assistant.service import Assistant

    spec = f"local:{args['model']}"
    settings = bench_settings(index_dir=args["index_dir"], corpus_dir=args["corpus_dir"], llm=spec,
                              model_cache_dir=args["models_dir"], llm_timeout=args.get("timeout", 900),
                              llm_max_tokens=args.get("max_tokens"))
    assistant = Assistant(settings)
    t0 = time.perf_counter()
    engine = assistant.engine(spec)
    engine.server.ensure()  # the child started, loaded the model and answers HTTP
    load_ours = time.perf_counter() - t0
    opts = engine.server.options
    threads = opts.n_threads or os.cpu_count() or 1
    t0 = time.perf_counter()
    anchor = Llama(model_path=str(engine.server.model_path), n_ctx=opts.n_ctx, n_batch=opts.n_batch, n_threads=threads,
                   n_threads_batch=threads, verbose=False)
    load_anchor = time.perf_counter() - t0
    # What the server samples with for our request: ChatOpenAI sends temperature and max_tokens; the
    # rest are llama_cpp.server's request defaults (repeat_penalty 1.1, top_k 40, top_p 0.95, min_p 0.05).
    params = {"max_tokens": settings.llm_max_tokens, "temperature": 0.0, "repeat_penalty": 1.1, "top_k": 40,
              "top_p": 0.95, "min_p": 0.05}
    warm = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "Say OK."}]
    anchor.create_chat_completion(messages=warm, max_tokens=2, temperature=0.0)  # page in; system prompt cached
    for _ in engine.stream_messages(build_messages("Say OK.", [])):  # the same for the child, over its HTTP API
        pass

    prompts = {}
    for q in args["questions"]:  # the messages the chain will send: its retrieval, its passage selection
        docs = assistant.retriever.invoke(q)
        shown = engine.prepare(q, docs).shown
        dicts = [{"role": {"system": "system", "human": "user"}[m.type], "content": m.content} for m in build_messages(q, shown)]
        prompts[q] = {"dicts": dicts, "ids": [d.metadata["chunk_id"] for d in docs],
                      "prompt_tokens": _prompt_tokens(anchor, dicts)}

    def run_ours(q):
        t0, times, pieces, answer, reset = time.perf_counter(), [], [], None, False
        for event in assistant.stream(q, llm=spec):
            if "token" in event and not reset:
                if event["token"]:
                    times.append(time.perf_counter() - t0)
                pieces.append(event["token"])
            elif "reset" in event:
                reset = True
            elif "answer" in event:
                answer = event["answer"]
        end = time.perf_counter() - t0
        same = answer is not None and answer.standalone_question == q and [p.chunk_id for p in answer.passages] == prompts[q]["ids"]
        return _run(anchor, "".join(pieces), times, end, stopped_early=reset, same_prompt=same,
                    notice=(answer.fallback_notice or "")[:200] if answer else "")

    def run_anchor(q):
        # On a fresh thread, as ours runs (ChatEngine's worker): llama.cpp on a thread that has run
        # torch competes with torch's OpenMP team and would understate the runtime's own speed.
        t0, times, pieces, end = time.perf_counter(), [], [], []

        def generate():
            for chunk in anchor.create_chat_completion(messages=prompts[q]["dicts"], stream=True, **params):
                content = (chunk["choices"][0].get("delta") or {}).get("content") if chunk["choices"] else None
                if content:
                    times.append(time.perf_counter() - t0)
                    pieces.append(content)
            end.append(time.perf_counter() - t0)

        worker = threading.Thread(target=generate, name="anchor")
        worker.start()
        worker.join()
        return _run(anchor, "".join(pieces), times, end[0] if end else time.perf_counter() - t0)

    runs, start = [], time.perf_counter()
    budget, minimum = args.get("budget_s", 1e9), args.get("min_pairs", 2)
    for r in range(args.get("repeats", 1)):
        for i, q in enumerate(args["questions"]):
            if len(runs) >= minimum and time.perf_counter() - start > budget:
                break  # the minimum is done; more pairs would break the run's budget
            order = [("ours", run_ours), ("anchor", run_anchor)]
            if (r + i) % 2:
                order.reverse()
            pair = {name: fn(q) for name, fn in order}
            o, a = pair["ours"], pair["anchor"]
            o["same_output"] = o["text"] == a["text"]
            # Equal work: time to the last piece ours streamed vs llama.cpp's time to the same piece
            # (when our guard stopped a generation early, the totals are not comparable; this is).
            n = min(len(o["times"]), len(a["times"]))
            o["ratio_same_work"] = round(o["times"][n - 1] / a["times"][n - 1], 3) if n else None
            runs.append({"question": q, "repeat": r, "first": order[0][0], "prompt_tokens": prompts[q]["prompt_tokens"], **pair})
    summary = _summarise(spec, runs, load_ours, load_anchor, params, anchor.n_ctx(), anchor.n_batch)
    engine.server.stop()
    return summary


def _prompt_tokens(llm, dicts: list[dict]) -> int | None:
    """Tokens of the chat-templated prompt, formatted as llama-cpp-python formats it from the GGUF."""
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        eos, bos = llm.token_eos(), llm.token_bos()
        fmt = Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"],
                                  eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                                  bos_token=llm._model.token_get_text(bos) if bos != -1 else "")
        prompt = fmt(messages=dicts).prompt
        return len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
    except Exception:  # noqa: BLE001 - a missing template only loses this one figure
        return None


def _run(llm, text: str, times: list[float], end: float, **extra) -> dict:
    """One generation: first token, total, tokens (re-tokenised text) and the decode rate after the first token."""
    tokens = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0
    ttft = times[0] if times else end
    decode = (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"ttft_s": round(ttft, 3), "total_s": round(end, 3), "tokens": tokens,
            "tokens_per_s": round((len(times) - 1) / decode, 2) if decode > 0 else None,
            "text": text, "times": times, **extra}


def _summarise(spec: str, runs: list[dict], load_ours: float, load_anchor: float, params: dict, n_ctx: int,
               n_batch: int) -> dict:
    def side(name):
        rs = [r[name] for r in runs]
        tps = [x["tokens_per_s"] for x in rs if x["tokens_per_s"]]
        return {"ttft_p50_s": round(median([x["ttft_s"] for x in rs]), 3),
                "total_p50_s": round(median([x["total_s"] for x in rs]), 3),
                "tokens_per_s_p50": round(median(tps), 2) if tps else None,
                "tokens_p50": median([x["tokens"] for x in rs])}

    def pairs(fn):
        vals = [v for v in (fn(r["ours"], r["anchor"]) for r in runs) if v]
        return round(median(vals), 3) if vals else None

    ours, anchor = side("ours"), side("anchor")
    complete = [r for r in runs if not r["ours"]["stopped_early"]]
    prompt_tokens = [r["prompt_tokens"] for r in runs if r["prompt_tokens"]]
    summary = {
        "engine": spec, "runs": len(runs), "ours": ours, "anchor": anchor,
        # Medians of per-pair ratios: each pair ran back to back on one question.
        "ratio_ttft": pairs(lambda o, a: o["ttft_s"] / a["ttft_s"] if a["ttft_s"] else None),
        "ratio_tokens_per_s": pairs(lambda o, a: o["tokens_per_s"] / a["tokens_per_s"]
                                    if o["tokens_per_s"] and a["tokens_per_s"] else None),
        "ratio_same_work": pairs(lambda o, a: o["ratio_same_work"]),
        "ratio_total": (round(median([r["ours"]["total_s"] / r["anchor"]["total_s"] for r in complete]), 3)
                        if complete else None),
        "complete_pairs": len(complete),
        "prompt_tokens_p50": median(prompt_tokens) if prompt_tokens else None,
        "same_output": sum(r["ours"]["same_output"] for r in runs), "same_prompt": sum(r["ours"]["same_prompt"] for r in runs),
        "stopped_early": len(runs) - len(complete),
        "model_load_s": {"ours": round(load_ours, 2), "anchor": round(load_anchor, 2)},
        "params": {"n_ctx": n_ctx, "n_batch": n_batch, **{k: v for k, v in params.items() if k in ("max_tokens", "temperature", "top_p", "top_k", "repeat_penalty")}},
        "peak_rss_mb": peak_rss_mb(), "detail": runs}
    for r in runs:  # keep the record small: texts and token times were only needed for the comparison
        for side_ in (r["ours"], r["anchor"]):
            side_["text_head"] = side_.pop("text")[:120]
            side_.pop("times")
    return summary
