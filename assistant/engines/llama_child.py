"""Entry point of the local model's child process: llama-cpp-python's own OpenAI-compatible server.

Run as `python -m assistant.engines.llama_child --parent-pid PID -- <llama_cpp.server arguments>`.
It adds one thing to `python -m llama_cpp.server`: a watchdog that ends the child as soon as the
app that started it is gone (killed, crashed or exited without cleaning up), so a model never
outlives the app and holds its memory. Everything else is llama.cpp's server, run unchanged.

Kept free of the `assistant` package's other imports: the child loads llama.cpp and nothing more.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time


def _watch_parent(parent_pid: int, every: float = 0.5) -> None:
    """Exit the child the moment its parent changes (the app died: the child was re-parented)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(every)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] != "--parent-pid" or "--" not in argv:
        sys.exit("usage: python -m assistant.engines.llama_child --parent-pid PID -- <llama_cpp.server args>")
    parent = int(argv[1])
    server_args = argv[argv.index("--") + 1:]
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watchdog").start()
    sys.argv = ["llama_cpp.server", *server_args]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
