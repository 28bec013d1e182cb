"""The local model runs in a child process: llama.cpp's own OpenAI-compatible server, supervised.

A native crash (a segfault in llama.cpp), an out-of-memory kill or a hang of the model must cost
one answer, never the process that serves founders. So the `local` engine does not load the model
into the app: `LlamaServer` starts `llama_cpp.server` (shipped with llama-cpp-python[server]) as
a child on a free loopback port with a per-process API key, waits until it answers, and talks to
it through the same OpenAI client path as the `openai` engine. A child that died is started again
at the next question; one that stopped answering is killed and started again. The child exits
with the app (a watchdog in `llama_child.py`, plus a kill at interpreter exit).
"""

from __future__ import annotations

import atexit
import logging
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineFailedError, EngineUnavailableError

log = logging.getLogger(__name__)

# The portable llama.cpp build (scripts/install-llama-cpp.sh) needs these; a CPU without them
# would kill every child with SIGILL, so it is refused up front with the reason.
REQUIRED_CPU_FLAGS = ("avx2", "fma", "f16c")
# The AVX-512 variant (AMX off) the install script puts beside it, used where the CPU has all of these.
AVX512_CPU_FLAGS = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16")
BUILDS = ("auto", "portable", "avx512")
CHILD_SCRIPT = Path(__file__).with_name("llama_child.py")


@dataclass(frozen=True)
class LlamaBuild:
    """Which llama-cpp-python build the model server child imports: the venv's portable one, or a
    variant folder put first on its PYTHONPATH."""

    name: str
    path: Path | None = None


def variants_root() -> Path:
    return Path(sys.prefix) / "llama-cpp-variants"


def choose_build(wanted: str = "auto", flags: set[str] | None = None, root: Path | None = None) -> LlamaBuild:
    """The fastest installed build this CPU runs ('auto'), or the one asked for when it can run here."""
    if wanted not in BUILDS:
        from ..errors import UnknownNameError

        raise UnknownNameError("llama.cpp build", wanted, BUILDS)
    flags = cpu_flags() if flags is None else flags
    folder = (root or variants_root()) / "avx512"
    runs_avx512 = (folder / "llama_cpp").is_dir() and all(f in flags for f in AVX512_CPU_FLAGS)
    if wanted in ("auto", "avx512") and runs_avx512:
        return LlamaBuild("avx512", folder)
    return LlamaBuild("portable")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        info = cpuinfo.read_text(errors="replace")
    except OSError:
        return set()
    return set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))


@dataclass(frozen=True)
class ServerOptions:
    """How the child loads the model (llama.cpp server arguments)."""

    n_ctx: int = 4096
    n_threads: int = 0  # 0 = os.cpu_count()
    n_batch: int = 512
    build: str = "auto"  # auto | portable | avx512 (see choose_build)
    startup_timeout: float = 180.0
    health_timeout: float = 3.0


def cpu_problem(cpuinfo: Path = Path("/proc/cpuinfo"), machine: str | None = None) -> str:
    """Why the portable llama.cpp build cannot run on this CPU ('' when it can)."""
    if (machine or platform.machine()).lower() not in ("x86_64", "amd64"):
        return ""  # other architectures build for their own baseline
    flags = cpu_flags(cpuinfo)
    if not flags:
        return ""
    missing = [f for f in REQUIRED_CPU_FLAGS if f not in flags]
    return f"this CPU lacks {', '.join(f.upper() for f in missing)}, which the portable llama.cpp build needs" if missing else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class LlamaServer:
    """One supervised llama.cpp server child for one GGUF model.

    Thread-safe: `ensure()` may be called from any answering thread; one start happens at a time.
    """

    def __init__(self, model_path: Path, alias: str, options: ServerOptions | None = None,
                 log_dir: Path | None = None) -> None:
        self.model_path, self.alias = Path(model_path), alias
        self.options = options or ServerOptions()
        self.api_key = secrets.token_hex(24)  # only this app may use the child's port (hex: never starts with "-", which argparse would read as an option)
        self.log_path = (Path(log_dir) if log_dir else Path(model_path).parent) / f"llama-server-{alias}.log"
        self._proc: subprocess.Popen | None = None
        self._port = 0
        self._lock = threading.Lock()
        self._starts: deque[float] = deque(maxlen=3)
        self.restarts = 0
        self.build = choose_build(self.options.build)
        _track(self)

    # -- state -------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def healthy(self, timeout: float | None = None) -> bool:
        """The child runs and its HTTP server answers (a model list request) within `timeout`."""
        if not self.alive():
            return False
        import httpx

        try:
            r = httpx.get(f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.api_key}"},
                          timeout=timeout or self.options.health_timeout)
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    # -- lifecycle ---------------------------------------------------------------------------
    def ensure(self) -> str:
        """The child's base URL, starting (or restarting) it first when it is not running."""
        with self._lock:
            if self.alive():
                return self.base_url
            if self._proc is not None:
                why = describe_exit(self._proc.returncode)
                log.warning("local model server (%s) %s; starting it again", self.alias, why)
                self.restarts += 1
            self._start()
            return self.base_url

    def start_in_background(self) -> None:
        """Begin loading now so the first question waits less (errors surface at that question)."""
        def go():
            try:
                self.ensure()
            except Exception as exc:  # noqa: BLE001 - reported again to the question that needs it
                log.warning("local model server (%s) did not start: %s", self.alias, exc)

        threading.Thread(target=go, daemon=True, name=f"llama-server-{self.alias}-start").start()

    def last_exit(self) -> str:
        """How the child ended ('is running' while it runs)."""
        return describe_exit(self._proc.poll()) if self._proc else "was never started"

    def recover(self) -> None:
        """After a failed answer: let a dying child finish dying, and kill one that no longer answers
        (hung, or half-dead), so the next question starts a fresh one instead of waiting on it too."""
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            if not self.healthy():
                log.warning("local model server (%s, pid %s) stopped answering; killing it", self.alias, self.pid)
                self.stop()

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        except OSError:
            pass
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def _start(self) -> None:
        problem = cpu_problem()
        if problem:
            raise EngineUnavailableError(f"The local engine cannot run here: {problem}.",
                                         "Use --llm extractive, or an openai engine pointed at a server on another machine.")
        now = time.monotonic()
        if len(self._starts) == self._starts.maxlen and now - self._starts[0] < 60:
            raise EngineFailedError(f"the local model server ({self.alias}) died {self._starts.maxlen} times within a minute",
                                    f"See {self.log_path}; reinstall the portable build with `make install-local`.")
        self._starts.append(now)
        self._port = _free_port()
        threads = self.options.n_threads or os.cpu_count() or 1
        args = ["--model", str(self.model_path), "--model_alias", self.alias, "--host", "127.0.0.1",
                "--port", str(self._port), "--api_key", self.api_key, "--n_ctx", str(self.options.n_ctx),
                "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_batch", str(self.options.n_batch)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            out.write(f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')} port {self._port}\n".encode())
            out.flush()
            # The key travels as an argument: visible to this machine's own users in `ps`, like the
            # port; it only keeps other local programs from borrowing the model by accident.
            out.write(f"llama.cpp build: {self.build.name}\n".encode())
            out.flush()
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            # The app sets OMP_WAIT_POLICY=PASSIVE for its own OpenMP runtimes (embeddings share the cores);
            # the model server is the one process computing while it generates, and passive threads sleep
            # and wake at each of llama.cpp's many small parallel steps. It keeps OpenMP's default.
            if os.environ.get("ASSISTANT_LLM_OMP_WAIT_POLICY"):
                env["OMP_WAIT_POLICY"] = os.environ["ASSISTANT_LLM_OMP_WAIT_POLICY"]
            else:
                env.pop("OMP_WAIT_POLICY", None)
            if self.build.path:
                env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.build.path), env.get("PYTHONPATH", "")) if p)
            self._proc = subprocess.Popen([sys.executable, str(CHILD_SCRIPT), "--parent-pid", str(os.getpid()), "--", *args],
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.options.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                if self._proc.returncode < 0 and self.build.name != "portable":
                    # A variant that dies while loading (a CPU that misreports a flag): the portable build, once.
                    log.warning("local model server (%s) %s while loading with the %s build; using the portable build",
                                self.alias, describe_exit(self._proc.returncode), self.build.name)
                    self.build = LlamaBuild("portable")
                    self._starts.pop()
                    return self._start()
                raise EngineFailedError(f"the local model server ({self.alias}) {describe_exit(self._proc.returncode)} "
                                        f"while loading: {self._log_tail()}",
                                        f"See {self.log_path}; reinstall the portable build with `make install-local`.")
            if self.healthy(timeout=1.0):
                log.info("local model server (%s, %s build) ready on port %s (pid %s)", self.alias, self.build.name,
                         self._port, self._proc.pid)
                return
            time.sleep(0.2)
        self.stop()
        raise EngineFailedError(f"the local model server ({self.alias}) did not answer within {self.options.startup_timeout:g} s",
                                f"See {self.log_path}.")

    def _log_tail(self, lines: int = 3) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return "no log"
        return " | ".join(t.strip() for t in tail)[-400:] or "no output"


_LIVE: "set[LlamaServer]" = set()


def _track(server: LlamaServer) -> None:
    """Remember the server so interpreter exit stops its child (the watchdog covers a hard kill)."""
    if not _LIVE:
        atexit.register(_stop_all)
    _LIVE.add(server)


def _stop_all() -> None:
    for server in list(_LIVE):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
