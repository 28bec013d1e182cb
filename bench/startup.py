"""Start-up and memory of the real app: `python app.py` with an existing index, timed from process
start to HTTP 200 on the page (UI ready) and to the first answer over the page's /chat API (the
assistant loaded, and for an LLM engine the model too); the process's peak RSS (VmHWM) with
each engine once it has answered."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .measure import ROOT, child_env, peak_rss_mb, rss_mb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_run(index_dir: Path, corpus_dir: Path, engine: str, question: str, *, models_dir: Path | None = None,
            max_tokens: int = 48, timeout: float = 240) -> dict:
    """One cold start of app.py answering one question with `engine`."""
    import httpx

    port = free_port()
    env = child_env(ASSISTANT_INDEX_DIR=str(index_dir), ASSISTANT_CORPUS_DIR=str(corpus_dir), ASSISTANT_PORT=str(port),
                    ASSISTANT_LLM=engine, ASSISTANT_LLM_TIMEOUT=str(int(timeout)), ASSISTANT_LLM_MAX_TOKENS=str(max_tokens),
                    **({"ASSISTANT_MODEL_CACHE_DIR": str(models_dir)} if models_dir else {}))
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="sa-bench-app-") as cwd, open(Path(cwd) / "app.log", "w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        out = {"engine": engine, "http_200_s": None, "first_answer_s": None, "answered": False}
        try:
            while time.perf_counter() - t0 < timeout and proc.poll() is None:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        out["http_200_s"] = round(time.perf_counter() - t0, 2)
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            if out["http_200_s"] is None:
                log.seek(0)
                raise RuntimeError(f"app.py gave no HTTP 200 within {timeout:.0f} s (exit {proc.poll()}):\n{log.read()[-2000:]}")
            out["rss_at_http_200_mb"] = rss_mb(proc.pid)
            text = _ask(url, question, engine, timeout)
            out["first_answer_s"] = round(time.perf_counter() - t0, 2)
            out["answered"] = "[" in text
            out["peak_rss_mb"] = peak_rss_mb(proc.pid)
            out["rss_after_answer_mb"] = rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out


def _ask(url: str, question: str, engine: str, timeout: float) -> str:
    from gradio_client import Client

    client = Client(url, verbose=False)
    job = client.submit(*chat_args(client, question, engine), api_name="/chat")
    result = job.result(timeout=timeout)
    messages = next((r for r in result if isinstance(r, list)), [])  # the chatbot's messages among the outputs
    content = messages[-1]["content"] if messages else ""
    if isinstance(content, list):
        content = " ".join(c.get("text", "") for c in content if isinstance(c, dict))
    return str(content)


def chat_args(client, question: str, engine: str) -> list:
    """/chat's inputs by name: the question first, the engine by name, the rest their defaults (or empty),
    so the benchmark follows the UI's signature as it grows (conversation id, browser id, ...)."""
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/chat"]["parameters"]
    args = []
    for i, p in enumerate(params):
        name = p.get("parameter_name") or ""
        if i == 0:
            args.append(question)
        elif "engine" in name:
            args.append(engine)
        elif p.get("parameter_has_default"):
            args.append(p.get("parameter_default"))
        else:
            args.append([] if "turn" in name or "history" in name else "")
    return args


def import_gradio_s() -> float:
    """The anchor for UI ready: a fresh Python that only imports gradio (process start to import done)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import gradio"], env=child_env(), cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    return time.perf_counter() - t0


def run_startup(index_dir: Path, corpus_dir: Path, engines: list[str], question: str, *, repeats: int = 2,
                models_dir: Path | None = None, max_tokens: int = 48) -> dict:
    """Extractive `repeats` times (the UI-ready figure is its median), every LLM engine once; `import gradio`
    alone as the anchor, alternating with the extractive starts."""
    from .measure import median

    rows, anchor = [], []
    for engine in engines:
        runs = []
        for _ in range(repeats if engine == "extractive" else 1):
            runs.append(app_run(index_dir, corpus_dir, engine, question, models_dir=models_dir, max_tokens=max_tokens))
            if engine == "extractive":
                anchor.append(import_gradio_s())
        rows.append({"engine": engine, "runs": len(runs),
                     "http_200_s": median([r["http_200_s"] for r in runs]),
                     "first_answer_s": median([r["first_answer_s"] for r in runs]),
                     "peak_rss_mb": max(r["peak_rss_mb"] or 0 for r in runs) or None,
                     "rss_at_http_200_mb": median([r["rss_at_http_200_mb"] or 0 for r in runs]),
                     "answered": all(r["answered"] for r in runs), "max_tokens": max_tokens,
                     "samples": runs})
    out = {"rows": rows}
    if anchor:
        ui = next(r for r in rows if r["engine"] == "extractive")
        out["import_gradio_s"] = round(median(anchor), 2)
        out["ratio_ui_ready_to_import_gradio"] = round(ui["http_200_s"] / median(anchor), 2)
    return out
