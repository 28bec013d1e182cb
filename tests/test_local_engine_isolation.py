"""The local model runs in a supervised child process (assistant/engines/llama_server.py): a crash,
a kill or a hang of the model costs one answer, never the process that serves founders.

The slow tests run the real llama.cpp server with the real 0.5B model and kill it for real
(SIGSEGV, SIGKILL, SIGSTOP) in the middle of a streamed answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.engines.llama_server import LlamaServer, ServerOptions, cpu_problem, describe_exit
from assistant.errors import EngineFailedError

from .conftest import require_local

SPEC = "local:qwen-0.5b"
Q = "Which is better for real-time apps, Node.js or Python?"


def _local_bot(assistant, gguf_cache, timeout: float):
    """An Assistant over the session's index whose local engine's model server is up."""
    require_local()
    from assistant.service import Assistant

    settings = assistant.settings.model_copy(update={"model_cache_dir": gguf_cache, "llm_timeout": timeout})
    bot = Assistant(settings, kb=assistant.kb)
    engine = bot.engine(SPEC)
    engine.server.ensure()
    return bot, engine


# -- fast: the parts that need no model --------------------------------------------------------------

def test_a_cpu_without_avx2_is_named_before_any_child_starts(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n")
    assert cpu_problem(info, machine="x86_64") == "this CPU lacks AVX2, FMA, F16C, which the portable llama.cpp build needs"
    info.write_text("flags\t\t: fpu sse avx avx2 fma f16c avx512f amx_tile amx_int8\n")
    assert cpu_problem(info, machine="x86_64") == ""
    assert cpu_problem(info, machine="aarch64") == ""


def test_exit_codes_are_described_as_a_person_reads_them():
    assert describe_exit(-signal.SIGSEGV) == "was killed by SIGSEGV"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(1) == "exited with status 1"


def test_a_model_file_the_child_cannot_load_is_a_clear_failure_and_the_app_answers_with_quotes(assistant, tmp_path):
    pytest.importorskip("llama_cpp")
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)  # the magic, then nothing a loader can use
    server = LlamaServer(bad, "broken", ServerOptions(n_ctx=512, startup_timeout=60), log_dir=tmp_path)
    with pytest.raises(EngineFailedError) as exc:
        server.ensure()
    assert "while loading" in exc.value.problem and str(server.log_path) in exc.value.fix
    assert not server.alive()


# -- slow: the real model, killed for real -----------------------------------------------------------

@pytest.fixture(scope="module")
def local_bot(assistant, gguf_cache):
    bot, engine = _local_bot(assistant, gguf_cache, 300.0)
    yield bot, engine
    engine.server.stop()


def the_model_wrote(answer) -> bool:
    """The model server answered: its own cited text, or text the chain rejected on content (a small
    model that cites nothing or writes only markers), but no connection error, crash or deadline."""
    notice = answer.fallback_notice or ""
    return not any(sign in notice for sign in ("model server", "did not finish", " failed: ", "is busy"))


def _ask_killing_the_child(bot, engine, how) -> tuple:
    """Stream an answer and, at its first token, do `how(pid)` to the model's child process."""
    victim, answer, tokens_after = None, None, 0
    for event in bot.stream(Q, llm=SPEC):
        if "token" in event and victim is None:
            victim = engine.server.pid
            how(victim)
        elif "token" in event:
            tokens_after += 1
        if "answer" in event:
            answer = event["answer"]
    return victim, answer


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_a_killed_model_child_costs_one_answer_and_the_next_question_gets_a_new_child(local_bot, sig):
    bot, engine = local_bot
    others, stop = [], threading.Event()

    def another_session():  # a founder asking at the same time on the same process
        while not stop.is_set():
            others.append(bot.ask("What did PayPal report after switching to Node.js?", llm="extractive"))

    t = threading.Thread(target=another_session)
    t.start()
    try:
        victim, answer = _ask_killing_the_child(bot, engine, lambda pid: os.kill(pid, sig))
    finally:
        stop.set()
        t.join()
    assert victim is not None and answer is not None
    assert answer.fallback_notice and f"killed by {sig.name}" in answer.fallback_notice, answer.fallback_notice
    assert "restarts for the next question" in answer.fallback_notice
    assert answer.engine == f"{SPEC} → extractive" and answer.citations and not answer.refused
    assert others and all(o.citations for o in others)  # the other session never noticed

    again = bot.ask(Q, llm=SPEC)
    assert engine.server.alive() and engine.server.pid != victim
    assert again.engine.startswith(SPEC) and again.citations
    assert the_model_wrote(again), again.fallback_notice


@pytest.mark.slow
def test_a_hung_model_child_is_abandoned_at_the_deadline_killed_and_replaced(assistant, gguf_cache):
    bot, engine = _local_bot(assistant, gguf_cache, 20.0)
    try:
        t0 = time.monotonic()
        victim, answer = _ask_killing_the_child(bot, engine, lambda pid: os.kill(pid, signal.SIGSTOP))
        waited = time.monotonic() - t0
        assert answer.fallback_notice and answer.citations, answer
        assert "within 20 s" in answer.fallback_notice
        assert waited < 20 + 15  # the deadline, the health check and the kill; never forever
        again = bot.ask(Q, llm=SPEC)
        assert engine.server.pid != victim and engine.server.alive()
        assert again.citations and the_model_wrote(again), again.fallback_notice
    finally:
        engine.server.stop()


CHILD_OWNER = """
import sys, time
from pathlib import Path
from assistant.engines.llama_server import LlamaServer, ServerOptions
server = LlamaServer(Path(sys.argv[1]), "orphan-test", ServerOptions(n_ctx=512), log_dir=Path(sys.argv[2]))
server.ensure()
print(server.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_the_model_child_dies_with_the_app_even_when_the_app_is_killed(gguf_cache, tmp_path):
    require_local()
    from assistant.gguf_models import resolve_model

    model = resolve_model("qwen-0.5b", gguf_cache)
    app = subprocess.Popen([sys.executable, "-c", CHILD_OWNER, str(model), str(tmp_path)], stdout=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    try:
        child = int(app.stdout.readline())
        os.kill(app.pid, signal.SIGKILL)  # no atexit, no cleanup: only the child's watchdog can notice
        app.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{child}").exists() and _state(child) != "Z":
            time.sleep(0.2)
        assert not Path(f"/proc/{child}").exists() or _state(child) == "Z", "the model child outlived the app"
    finally:
        app.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_the_avx512_variant_is_chosen_only_where_the_cpu_has_every_flag_it_needs(tmp_path):
    from assistant.engines.llama_server import AVX512_CPU_FLAGS, choose_build
    from assistant.errors import UnknownNameError

    (tmp_path / "avx512" / "llama_cpp").mkdir(parents=True)
    full = {"avx2", "fma", "f16c", *AVX512_CPU_FLAGS, "amx_tile", "amx_int8"}
    assert choose_build("auto", full, tmp_path).name == "avx512"
    assert choose_build("auto", full, tmp_path).path == tmp_path / "avx512"
    assert choose_build("portable", full, tmp_path).name == "portable"
    for missing in ("avx512_vnni", "avx512_bf16", "avx512f"):
        assert choose_build("auto", full - {missing}, tmp_path).name == "portable"
        assert choose_build("avx512", full - {missing}, tmp_path).name == "portable"  # never one that cannot run
    assert choose_build("auto", full, tmp_path / "nothing-installed").name == "portable"
    with pytest.raises(UnknownNameError) as exc:
        choose_build("native", full, tmp_path)
    assert "auto" in exc.value.fix and "portable" in exc.value.fix
