"""Raw llama.cpp speed of whichever llama-cpp-python build is importable: prompt and generation tokens/s.

Used to choose the build scripts/install-llama-cpp.sh ships (BENCHMARKS.md, "llama.cpp builds").
Run one build per process, e.g. with another build first on PYTHONPATH:

    python -m bench.llama_build --model index/models/qwen-1.5b.gguf --runs 3
    PYTHONPATH=/tmp/llama-avx512 python -m bench.llama_build --model ... --label "AVX-512, no AMX"

The prompt is the guide's own text cut to `--prompt-tokens` tokens (default 500, about what an
answer's prompt holds); each run clears the KV cache so the whole prompt is read again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "corpus" / "guide.txt"


def measure(model: Path, prompt_tokens: int, gen_tokens: int, runs: int, threads: int) -> dict:
    import llama_cpp
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    tokens = llm.tokenize(GUIDE.read_text(encoding="utf-8").encode())[:prompt_tokens]
    read, write = [], []
    for _ in range(runs + 1):  # the first run pages the weights in and is not counted
        llm.reset()
        llm._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        llm.eval(tokens)
        t1 = time.perf_counter()
        out = 0
        for _tok in llm.generate([], temp=0.0, reset=False):
            out += 1
            if out == gen_tokens:
                break
        t2 = time.perf_counter()
        read.append(len(tokens) / (t1 - t0))
        write.append(out / (t2 - t1))
    info = llama_cpp.llama_print_system_info().decode().strip()
    return {"llama_cpp_python": llama_cpp.__version__, "system_info": info, "prompt_tokens": len(tokens),
            "gen_tokens": gen_tokens, "runs": runs, "threads": threads,
            "prompt_tok_s": round(statistics.median(read[1:]), 1), "gen_tok_s": round(statistics.median(write[1:]), 1)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--label", default="")
    p.add_argument("--prompt-tokens", type=int, default=500)
    p.add_argument("--gen-tokens", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    result = measure(args.model, args.prompt_tokens, args.gen_tokens, args.runs, args.threads)
    print(json.dumps({"label": args.label, "model": args.model.name, **result}))


if __name__ == "__main__":
    main()
