"""Thumbs up/down on answers: an SQLite log under the index folder, exported as eval cases to review.

Each vote stores the question, the earlier turns, the whole answer (text, citations, engine) and
the time. `export_cases` turns the latest vote per answer into lines of the eval/cases.jsonl
schema (eval/README.md): the type, factor and gold winner are inferred from what was cited (the
factor table is the ground truth, so a cited row's `Win` cell is the gold winner); `must_include`
is left for the reviewer except for winner cases. The rating is part of the id
(`winner-feedback-3-down`), so the reviewer sees which answers founders disliked.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from ..config import Settings
from ..errors import IndexWriteError

FEEDBACK_DB = "feedback.sqlite"
_SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    rating INTEGER NOT NULL,          -- 1 thumbs up, -1 thumbs down, 0 vote withdrawn
    question TEXT NOT NULL,
    history TEXT NOT NULL,            -- JSON list of {role, content}
    answer TEXT NOT NULL,             -- JSON of assistant.answer.Answer
    engine TEXT NOT NULL
)"""
WIN_ALTERNATIVES = {"Node.js": ["Node.js", "Node"], "Python": ["Python"], "Tie": ["tie", "both", "no clear winner", "context"]}


def feedback_path(settings: Settings) -> Path:
    return settings.index_dir / FEEDBACK_DB


def open_sqlite(path: Path, what: str, statements: list[str]) -> sqlite3.Connection:
    """A connection to the UI's SQLite file `path` with its tables made; IndexWriteError when it cannot be
    written (SQLite with a 10 s lock timeout: replicas may share one folder)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=10)
        for statement in statements:
            con.execute(statement)
    except (OSError, sqlite3.Error) as exc:
        raise IndexWriteError(f"The {what} {path} cannot be written ({exc}).",
                              "Check that the index folder is writable (ASSISTANT_INDEX_DIR).") from exc
    return con


class FeedbackLog:
    """Append-only vote log; safe to use from the UI's worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        return open_sqlite(self.path, "feedback log", [_SCHEMA])

    def add(self, *, turn_id: str, rating: int, question: str, history: list[dict], answer: dict, engine: str) -> int:
        with self._lock, self._connect() as con:
            cur = con.execute(
                "INSERT INTO feedback (turn_id, created_at, rating, question, history, answer, engine) VALUES (?,?,?,?,?,?,?)",
                (turn_id, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), int(rating), question,
                 json.dumps(history, ensure_ascii=False), json.dumps(answer, ensure_ascii=False), engine))
            return int(cur.lastrowid)

    def rows(self) -> list[dict]:
        """Every vote, oldest first (empty when nothing was logged yet)."""
        if not self.path.is_file():
            return []
        with self._lock, self._connect() as con:
            con.row_factory = sqlite3.Row
            out = []
            for r in con.execute("SELECT * FROM feedback ORDER BY id"):
                d = dict(r)
                d["history"], d["answer"] = json.loads(d["history"]), json.loads(d["answer"])
                out.append(d)
            return out

    def latest(self) -> list[dict]:
        """The latest vote per answer, dropping withdrawn ones."""
        last: dict[str, dict] = {}
        for row in self.rows():
            last[row["turn_id"]] = row
        return [r for r in last.values() if r["rating"] != 0]


def to_case(row: dict, seq: int) -> dict:
    """One vote as an eval case (all schema fields present, as eval/README.md requires)."""
    ans = row["answer"]
    cits = ans.get("citations") or []
    refused = bool(ans.get("refused"))
    row_cit = next((c for c in cits if c.get("factor")), None)
    if row["history"] and ans.get("standalone_question") != ans.get("question"):  # the history changed the question
        kind = "followup"
    elif refused:
        kind = "out_of_scope"
    elif row_cit:
        kind = "winner"
    elif cits and not cits[0].get("source_id", "").startswith(("guide", "user-")):
        kind = "related"
    else:
        kind = "fact"
    factor = row_cit["factor"] if row_cit and not refused else None
    winner = row_cit["winner"] if factor else None
    first = row_cit or (cits[0] if cits else None)
    answerable = not refused and first is not None
    return {
        "id": f"{kind}-feedback-{seq}-{'up' if row['rating'] > 0 else 'down'}",
        "question": ans.get("question") or row["question"],
        "type": kind,
        "factor": factor,
        "gold_winner": winner,
        "must_include": [WIN_ALTERNATIVES[winner]] if winner in WIN_ALTERNATIVES else [],
        "must_not_include": [],
        "gold_evidence": _evidence(first) if answerable else None,
        "answerable": answerable,
        "history": row["history"] if kind == "followup" else [],
        "source": ("guide" if first["source_id"] == "guide" else first["source_id"]) if answerable else None,
    }


def _evidence(c: dict) -> str:
    """20-120 characters of the cited passage, exactly as in the source (the highlighted span first)."""
    if c.get("factor"):
        return c["node_cell"] if len(c.get("node_cell", "")) >= 20 else c["quote"][:120]
    quote = c["quote"]
    s, e = (c.get("highlight") or [(0, len(quote))])[0]
    text = quote[s:e].strip() or quote.strip()
    start = quote.find(text)
    if len(text) < 20:
        text = quote[start:start + 80].rstrip()
    if len(text) > 120:
        cut = text.rfind(" ", 20, 120)
        text = text[:cut if cut > 0 else 120]
    return quote[start:start + len(text)] if start >= 0 else text


def export_cases(log: FeedbackLog) -> list[dict]:
    return [to_case(row, seq) for seq, row in enumerate(log.latest(), start=1)]
