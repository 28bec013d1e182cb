"""`assistant serve` and `assistant feedback export`, registered by assistant.cli when present.

Heavy imports (gradio) happen inside the commands, so `assistant --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def serve(host: str | None = None, port: int | None = None, llm: str | None = None) -> int:
    """Serve until interrupted; errors print as problem + fix (ASSISTANT_DEBUG=1 raises them)."""
    import logging
    import os

    from ..config import load_settings
    from ..errors import AssistantError
    from .server import launch

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        launch(load_settings(host=host, port=port, llm=llm))
    except AssistantError as exc:
        if os.environ.get("ASSISTANT_DEBUG"):
            raise
        print(f"Error: {exc.problem}" + (f"\nFix: {exc.fix}" if exc.fix else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the web UI (default http://127.0.0.1:7860; ASSISTANT_HOST/ASSISTANT_PORT). Builds the index on first start."""
    return serve(args.host, args.port, args.llm)


def cmd_feedback_export(args: argparse.Namespace) -> int:
    """Write the UI's thumbs up/down as eval cases (eval/cases.jsonl schema) to review."""
    from ..config import load_settings
    from .feedback import FeedbackLog, export_cases, feedback_path

    settings = load_settings()
    log = FeedbackLog(feedback_path(settings))
    cases = export_cases(log)
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    if args.out:
        Path(args.out).write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    down = sum(c["id"].endswith("-down") for c in cases)
    where = args.out or "stdout"
    print(f"Exported {len(cases)} rated answers ({len(cases) - down} up, {down} down) from {log.path} to {where}. "
          "Review them (fill must_include, check the type) before adding them to eval/cases.jsonl.", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help=cmd_serve.__doc__, description=cmd_serve.__doc__)
    p.add_argument("--host", help="bind address (default 127.0.0.1; anything else warns unless ASSISTANT_AUTH is set)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--llm", help="default engine spec for the page's engine menu")
    p.set_defaults(func=cmd_serve)
    fb = sub.add_parser("feedback", help="The UI's answer ratings.", description="The UI's answer ratings.")
    fsub = fb.add_subparsers(dest="feedback_command", required=True)
    p = fsub.add_parser("export", help=cmd_feedback_export.__doc__, description=cmd_feedback_export.__doc__)
    p.add_argument("--out", type=Path, help="write the cases to this file (default: stdout)")
    p.set_defaults(func=cmd_feedback_export)
