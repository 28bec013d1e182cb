"""Measuring: clocks, percentiles, peak RSS, child processes, machine facts.

A figure that depends on the whole process (peak RSS, cold start) is measured in a fresh child
process (`run_child`), which reports its own peak resident set (the kernel's VmHWM) when done.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project root (holds pyproject.toml)


def percentile(samples: Iterable[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    xs = sorted(samples)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(samples: Iterable[float]) -> float:
    return percentile(samples, 50)


def summary_ms(seconds: list[float]) -> dict:
    """p50/p95/min/max in milliseconds of a list of durations in seconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(median(ms), 3), "p95_ms": round(percentile(ms, 95), 3),
            "min_ms": round(min(ms), 3) if ms else None, "max_ms": round(max(ms), 3) if ms else None}


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def ratio(ours: float | None, anchor: float | None) -> float | None:
    if not ours or not anchor:
        return None
    return round(ours / anchor, 3)


def _status_mb(pid: int | str, field: str) -> float | None:
    """A kB field of /proc/<pid>/status (VmHWM, VmRSS) in MB; None without /proc or the field."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set (VmHWM) of a process in MB; this process's ru_maxrss where /proc is missing."""
    peak = _status_mb(pid, "VmHWM")
    if peak is not None or pid != "self":
        return peak
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def rss_mb(pid: int | str = "self") -> float | None:
    return _status_mb(pid, "VmRSS")


def dir_size_mb(path: Path) -> float:
    """Bytes actually allocated on disk (sparse files count what they use), in MB."""
    total = 0
    for p in Path(path).rglob("*"):
        if p.is_file():
            st = p.stat()
            total += min(st.st_size, getattr(st, "st_blocks", st.st_size // 512 + 1) * 512)
    return round(total / 1e6, 2)


def child_env(**extra: str) -> dict:
    """The environment of a benchmark child: offline, the project root importable, no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])))
    env.update(extra)
    return env


def run_child(task: str, args: dict, timeout: float = 900, env: dict | None = None) -> dict:
    """Run `bench.worker <task>` in a fresh Python (extra `env` variables); return its result plus `wall_s`."""
    with tempfile.TemporaryDirectory(prefix="sa-bench-") as tmp:
        spec, out = Path(tmp) / "args.json", Path(tmp) / "result.json"
        spec.write_text(json.dumps(args, default=str))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bench.worker", task, str(spec), str(out)], cwd=ROOT,
                              env=child_env(**(env or {})), capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"bench child {task!r} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        result = json.loads(out.read_text())
    result["wall_s"] = round(wall, 2)
    return result


def machine() -> dict:
    """What the numbers were taken on (and how busy it was)."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "ram_gb": mem_gb, "python": platform.python_version(),
            "platform": platform.platform(), "load_avg_start": _load()}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def load_avg() -> list[float] | None:
    return _load()
