"""Load test: N concurrent chat sessions against the web UI over HTTP (gradio_client), loopback only.

    python bench/load_test.py                       # 50 clients for 60 s, extractive engine
    python bench/load_test.py --clients 20 --duration 15 --json out.json
    python bench/load_test.py --url http://127.0.0.1:7860/ --pid 1234   # an already running server

Without --url it starts `assistant serve` as a child process on a free 127.0.0.1 port over the
index in ASSISTANT_INDEX_DIR (or --index-dir; built on first start when missing), waits until it
answers, then runs the load. Every client is a real session (its own gradio_client.Client) that
asks a short conversation (`--turns` questions, follow-ups included) and then starts a new one, as
a founder would. Every request is checked: a cited answer ([n] markers) or the guide's "doesn't
cover" refusal; anything else, an exception or a hang past --request-timeout counts as an error.

Bounded in every direction: clients <= 200, duration <= 600 s, per-client requests capped, the
whole run joined with a deadline, targets 127.0.0.1/localhost only. Prints the figures (requests,
errors, p50/p95/p99 latency, throughput, server RSS / threads / open files before, during and
after) and optionally writes them as JSON for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
MAX_CLIENTS, MAX_DURATION, MAX_REQUESTS_PER_CLIENT = 200, 600.0, 5000
QUESTIONS = [
    "Which is better for real-time apps?",
    "Which is better for AI/ML, Node.js or Python?",
    "Which has the better learning curve?",
    "What did PayPal report after switching to Node.js?",
    "When should I choose Python?",
    "When should I choose Node.js?",
    "How does Python handle scalability?",
    "Which is better for microservices?",
    "What are the phases of the Node.js event loop?",
    "Is Django good for startup velocity?",
    "What's the best Rust web framework?",  # refused: not covered
]
FOLLOW_UPS = ["and for AI?", "what about hiring?", "and for real-time?", "why?"]
CITED = re.compile(r"\[\d+\]")
REFUSAL = "doesn't cover"


# -- measuring ----------------------------------------------------------------------------------

def percentile(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def proc_stats(pid: int | None) -> dict:
    """RSS (MB), threads and open file descriptors of a process (Linux /proc; psutil elsewhere)."""
    if not pid:
        return {}
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return {"rss_mb": round(rss, 1), "threads": threads, "fds": fds}
    except (OSError, AttributeError):
        try:
            import psutil

            p = psutil.Process(pid)
            return {"rss_mb": round(p.memory_info().rss / 2**20, 1), "threads": p.num_threads(), "fds": p.num_fds()}
        except Exception:  # noqa: BLE001 - figures are best effort
            return {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to load-test {host!r}: this script targets 127.0.0.1 only")


# -- the server -----------------------------------------------------------------------------------

class Server:
    """`assistant serve` as a child process on a free loopback port (extractive engine)."""

    def __init__(self, index_dir: Path | None, log_path: Path, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self.env = {**os.environ, **(env or {}), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                    "ASSISTANT_LLM": "extractive", "ASSISTANT_HOST": "127.0.0.1", "ASSISTANT_PORT": str(self.port)}
        if index_dir:
            self.env["ASSISTANT_INDEX_DIR"] = str(index_dir)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 600) -> Server:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--llm", "extractive"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log_path}")
            try:
                ask(self.url, [QUESTIONS[0]], request_timeout=60)  # loaded and answering
                return self
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
                time.sleep(1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s ({last}); see {self.log_path}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.proc = None


# -- the clients ----------------------------------------------------------------------------------

def answer_text(messages) -> str:
    """The last chatbot message's text (Gradio 6: content is a list of {type, text} parts)."""
    content = messages[-1]["content"] if messages else ""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def ask(url: str, questions: list[str], request_timeout: float, client=None) -> list[tuple[float, str]]:
    """One conversation on one session: [(latency s, answer text)]; raises on any failure."""
    from gradio_client import Client

    client = client or Client(url, verbose=False)
    if str(ROOT) not in sys.path:  # this file also runs as a script and is loaded by path in tests
        sys.path.insert(0, str(ROOT))
    from bench.startup import chat_args

    template = chat_args(client, "", "extractive")  # the UI's /chat inputs, looked up once per session
    out = []
    for q in questions:
        t = time.perf_counter()
        job = client.submit(q, *template[1:], api_name="/chat")
        messages = job.result(timeout=request_timeout)[1]  # (textbox, chatbot, ...): the UI's outputs may grow
        text = answer_text(messages)
        if not (CITED.search(text) or REFUSAL in text):
            raise ValueError(f"malformed answer to {q!r}: {text[:200]!r}")
        out.append((time.perf_counter() - t, text))
    return out


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def fail(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


def client_loop(url: str, seed: int, stop_at: float, turns: int, request_timeout: float, tally: Tally) -> None:
    from gradio_client import Client

    rng = random.Random(seed)
    done = 0
    while time.monotonic() < stop_at and done < MAX_REQUESTS_PER_CLIENT:
        try:
            client = Client(url, verbose=False)  # a new session: a new conversation
        except Exception as exc:  # noqa: BLE001 - counted
            tally.fail(f"connect:{type(exc).__name__}")
            time.sleep(0.5)
            continue
        with tally.lock:
            tally.sessions += 1
        for i in range(turns):
            if time.monotonic() >= stop_at or done >= MAX_REQUESTS_PER_CLIENT:
                break
            q = rng.choice(QUESTIONS) if i == 0 or rng.random() < 0.5 else rng.choice(FOLLOW_UPS)
            done += 1
            try:
                ((seconds, _text),) = ask(url, [q], request_timeout, client)
                tally.ok(seconds)
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                tally.fail(type(exc).__name__)
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass


def run_load(url: str, *, clients: int, duration: float, turns: int = 4, request_timeout: float = 60.0,
             pid: int | None = None, sample_every: float = 1.0) -> dict:
    """Run the load; returns the figures (latencies in ms, memory in MB)."""
    require_loopback(url)
    clients = max(1, min(clients, MAX_CLIENTS))
    duration = max(1.0, min(duration, MAX_DURATION))
    before = proc_stats(pid)
    tally = Tally()
    samples: list[dict] = []
    start = time.monotonic()
    stop_at = start + duration
    done = threading.Event()

    def sample():
        while not done.wait(sample_every):
            samples.append({"t": round(time.monotonic() - start, 1), **proc_stats(pid)})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    workers = [threading.Thread(target=client_loop, args=(url, i, stop_at, turns, request_timeout, tally), daemon=True,
                                name=f"load-client-{i}") for i in range(clients)]
    for w in workers:
        w.start()
    hard_deadline = stop_at + request_timeout + 30
    for w in workers:
        w.join(timeout=max(0.0, hard_deadline - time.monotonic()))
    hung = sum(w.is_alive() for w in workers)
    if hung:
        tally.fail("client hung past the deadline")
    wall = time.monotonic() - start
    done.set()
    sampler.join(timeout=5)
    after = proc_stats(pid)
    time.sleep(5)  # let the server settle: what stays is what a leak would keep
    settled = proc_stats(pid)
    lat_ms = [x * 1000 for x in tally.latencies]
    rss = [s["rss_mb"] for s in samples if "rss_mb" in s]
    third = max(1, len(rss) // 3)
    return {
        "clients": clients, "duration_s": duration, "wall_s": round(wall, 1), "turns_per_session": turns,
        "sessions": tally.sessions, "requests": len(lat_ms) + sum(tally.errors.values()), "ok": len(lat_ms),
        "errors": sum(tally.errors.values()), "error_kinds": tally.errors,
        "throughput_rps": round(len(lat_ms) / wall, 2) if wall else None,
        "latency_ms": {q: (round(percentile(lat_ms, v), 1) if lat_ms else None)
                       for q, v in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "server_before": before, "server_after": after, "server_settled": settled,
        "rss_mb": {"before": before.get("rss_mb"), "peak": max(rss) if rss else None,
                   "first_third_median": percentile(rss[:third], 50) if rss else None,
                   "last_third_median": percentile(rss[-third:], 50) if rss else None,
                   "after": after.get("rss_mb"), "settled": settled.get("rss_mb")},
        "samples": samples,
    }


def print_figures(fig: dict) -> None:
    lat, rss = fig["latency_ms"], fig["rss_mb"]
    print(f"{fig['clients']} clients x {fig['duration_s']:.0f} s ({fig['wall_s']} s wall), {fig['sessions']} sessions of "
          f"up to {fig['turns_per_session']} turns")
    print(f"requests {fig['requests']}  ok {fig['ok']}  errors {fig['errors']} {fig['error_kinds'] or ''}")
    print(f"throughput {fig['throughput_rps']} answers/s   latency p50 {lat['p50']} ms  p95 {lat['p95']} ms  "
          f"p99 {lat['p99']} ms  max {lat['max']} ms")
    if rss.get("before") is not None:
        b, a = fig["server_before"], fig["server_settled"]
        print(f"server RSS before {rss['before']} MB  peak {rss['peak']} MB  after {rss['after']} MB  settled "
              f"{rss['settled']} MB  (first third {rss['first_third_median']}, last third {rss['last_third_median']})")
        print(f"server threads {b.get('threads')} -> {a.get('threads')}   open fds {b.get('fds')} -> {a.get('fds')}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--turns", type=int, default=4, help="questions per session before a client starts a new one")
    p.add_argument("--request-timeout", type=float, default=60.0)
    p.add_argument("--url", help="an already running UI (127.0.0.1 only); default: start one")
    p.add_argument("--pid", type=int, help="its process id, for memory figures")
    p.add_argument("--index-dir", type=Path, help="index for the started server (default ASSISTANT_INDEX_DIR or ./index)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    server = None
    url, pid = args.url, args.pid
    if not url:
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"load-test-server-{os.getpid()}.log"
        print(f"starting assistant serve on 127.0.0.1 (log: {log}) ...", flush=True)
        t = time.perf_counter()
        server = Server(args.index_dir, log).start()
        url, pid = server.url, server.pid
        print(f"ready at {url} in {time.perf_counter() - t:.1f} s", flush=True)
    try:
        fig = run_load(url, clients=args.clients, duration=args.duration, turns=args.turns,
                       request_timeout=args.request_timeout, pid=pid)
    finally:
        if server:
            server.stop()
    fig["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform}
    print_figures(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0 if fig["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
