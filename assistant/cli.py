"""The `assistant` command. Library errors become friendly messages here, at the edge only
(set ASSISTANT_DEBUG=1 to see the traceback).

Imports cost nothing until used: building the parser imports only argparse and the subcommands'
`register` modules; settings (pydantic), the chain, Chroma and the embedding model are imported by
the command that needs them, so `--help`, `status` and `engines` never load a model or the store
(tests/test_cold_start.py checks which modules each command imports).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AssistantError

if TYPE_CHECKING:
    from .config import Settings

COMMANDS: dict[str, Callable] = {}


def command(fn: Callable) -> Callable:
    COMMANDS[fn.__name__.removeprefix("cmd_").replace("_", "-")] = fn
    return fn


def _settings(args: argparse.Namespace) -> Settings:
    from .config import load_settings

    return load_settings(related_dir=getattr(args, "related_dir", None), llm=getattr(args, "llm", None))


@command
def cmd_ingest(args: argparse.Namespace) -> int:
    """Index the corpus (incremental: unchanged chunks are not embedded again)."""
    from rich.progress import track

    from .ingest import ingest

    settings = _settings(args)
    progress = None if args.json or not sys.stderr.isatty() else (
        lambda docs: track(docs, description="Embedding chunks", console=_err_console(), transient=True))
    report = ingest(settings, related=args.related, rebuild=args.rebuild, if_stale=args.if_stale, progress=progress)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif report.skipped_stale_check:
        print(f"Index is up to date ({report.chunks} chunks from {len(report.sources)} sources); nothing to do.")
    else:
        print(f"Indexed {len(report.sources)} sources into {report.collection}: {report.chunks} chunks "
              f"({report.added} added, {report.updated} updated, {report.unchanged} unchanged, {report.deleted} deleted; "
              f"{report.embedded} embedded; {report.sentences_embedded} new sentences for re-ranking in "
              f"{report.sentences_seconds:.1f} s) in {report.seconds:.1f} s.")
        for s in report.sources:
            print(f"  {s['id']:<36} {s['chunks']:>4} chunks  {s['title']}")
    for f in report.failures:
        print(f"Skipped {f['name']}: {f['problem']}. Fix: {f['fix']}", file=sys.stderr)
    return 0


@command
def cmd_status(args: argparse.Namespace) -> int:
    """Show what the index holds."""
    from .ingest import read_manifest
    from .store import collection_name

    settings = _settings(args)
    manifest = read_manifest(settings)
    if not manifest:
        print(f"No index in {settings.index_dir}. Run: assistant ingest", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    total = sum(s["chunks"] for s in manifest["sources"])
    print(f"Index {settings.index_dir} ({settings.store_mode}), collection {manifest['collection']}"
          f"{'' if manifest['collection'] == collection_name(settings) else ' (STALE: settings changed, run assistant ingest)'}")
    print(f"Built {manifest['built_at']}: {total} chunks from {len(manifest['sources'])} sources")
    for s in manifest["sources"]:
        extra = f" (as of {s['as_of']})" if s.get("as_of") else ""
        print(f"  {s['id']:<36} {s['chunks']:>4} chunks  {s['title']}{extra}")
    return 0


@command
def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question (or one per line from stdin with '-'), streaming, then list the sources."""
    from .service import Assistant

    assistant = Assistant(_settings(args))
    questions = sys.stdin if args.question == "-" else [args.question]
    status = 0
    for line in questions:
        question, history = _stdin_turn(line.rstrip("\n"))
        if args.question == "-" and not question.strip():
            continue
        try:
            if args.json:
                answer = assistant.ask(question, history, llm=args.llm, k=args.k)
                print(answer.model_dump_json(), flush=True)
            else:
                _print_stream(assistant.stream(question, history, llm=args.llm, k=args.k))
        except AssistantError as exc:
            if args.question != "-":
                raise
            status = 1
            print(json.dumps({"question": question, **exc.to_dict()}) if args.json else f"Error: {exc}", flush=True)
    return status


def _stdin_turn(line: str) -> tuple[str, list[dict]]:
    """A line of `ask -`: the question as text, or a JSON object {"question": ..., "history": [...]}
    for a follow-up (history turns are {"role": "user"|"assistant", "content": ...})."""
    if line.lstrip().startswith("{"):
        try:
            turn = json.loads(line)
        except ValueError:
            return line, []
        if isinstance(turn, dict) and isinstance(turn.get("question"), str):
            history = turn.get("history")
            return turn["question"], history if isinstance(history, list) else []
    return line, []


def _print_stream(events) -> None:
    answer = None
    for event in events:
        if "token" in event:
            print(event["token"], end="", flush=True)
        elif "reset" in event:
            print(f"\n\n[notice] {event['reset']}\n", flush=True)
        elif "answer" in event:
            answer = event["answer"]
    print()
    if answer is None:
        return
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.title} — {c.section} ({c.url})")
            print(f"      \"{' '.join(c.quote.split())[:240]}\"")
    print(f"\n({answer.engine}, {answer.timings.total_ms:.0f} ms)")


@command
def cmd_engines(args: argparse.Namespace) -> int:
    """List the answering engines and whether each can run here."""
    from .engines import engine_statuses

    for st in engine_statuses():
        print(f"  {'ok ' if st.available else 'n/a'} {st.spec:<18} {st.reason}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Stack Assistant: cited answers from the Node.js vs Python guide.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help=cmd_ingest.__doc__, description=cmd_ingest.__doc__)
    p.add_argument("--related", action="store_true", help="also ingest the related sources of corpus/sources.toml (downloaded once)")
    p.add_argument("--related-dir", type=Path, help="read the related sources from this folder instead of downloading")
    p.add_argument("--rebuild", action="store_true", help="delete the index and build it from scratch")
    p.add_argument("--if-stale", action="store_true", help="do nothing when the corpus has not changed since the last ingest")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p = sub.add_parser("status", help=cmd_status.__doc__, description=cmd_status.__doc__)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("ask", help=cmd_ask.__doc__, description=cmd_ask.__doc__)
    p.add_argument("question", help="the question, or '-' to read one per line from stdin: text, or a JSON object {\"question\": ..., \"history\": [...]}")
    p.add_argument("--llm", help="engine spec: extractive, local[:qwen-0.5b|PATH.gguf], openai[:MODEL], ollama[:MODEL]")
    p.add_argument("-k", type=int, help="number of passages to retrieve")
    p.add_argument("--json", action="store_true", help="print one JSON object per answer (JSON Lines)")
    sub.add_parser("engines", help=cmd_engines.__doc__, description=cmd_engines.__doc__)
    for extra in _extra_commands():
        extra(sub)
    return parser


def _extra_commands() -> list[Callable]:
    """Subcommands that live in their own modules (UI, eval, bench, feedback), added when present."""
    import importlib

    out = []
    for mod in ("assistant.ui.cli", "assistant.evaluation.cli", "assistant.bench_cli"):
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name and mod.startswith(exc.name):
                continue
            raise
        out.append(module.register)
    return out


def _err_console():
    from rich.console import Console

    return Console(stderr=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status = _run(args)
    if argv is None and args.command == "ask":  # the `assistant` process itself, not a test calling main([...])
        _exit_now(status)
    return status


def _exit_now(status: int) -> None:
    """End an `assistant ask` process without the interpreter's teardown: freeing Chroma's Rust client,
    onnxruntime and ~2,000 modules takes ~0.3 s after the answer is printed (measured on 2 cores).
    atexit handlers still run (a local LLM's server is stopped); output is flushed first."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args) if hasattr(args, "func") else COMMANDS[args.command](args)
    except AssistantError as exc:
        if os.environ.get("ASSISTANT_DEBUG"):
            raise
        print(f"Error: {exc.problem}", file=sys.stderr)
        if exc.fix:
            print(f"Fix: {exc.fix}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `assistant ask … | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
