"""Saved conversations: one SQLite file next to the feedback log, rows keyed by their owner.

The owner is the login name when ASSISTANT_AUTH is on, else a random id the browser keeps in its
local storage (`gr.BrowserState`). Every read, write and delete names the owner, so one founder
can never list, open or delete another's conversation, even by guessing its id. Storage is
bounded: at most `max_conversations` per owner (the oldest are dropped) and `MAX_TURNS` turns per
conversation (the oldest turns are dropped from what is saved).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .feedback import open_sqlite

CONVERSATIONS_DB = "conversations.sqlite"
MAX_TURNS = 40
TITLE_CHARS = 60
_BROWSER_ID = re.compile(r"^[0-9a-f]{32}$")
_SCHEMA = """CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    turns TEXT NOT NULL               -- JSON list of the UI's turn dicts (question, answer, error, notice)
)"""


def conversations_path(settings: Settings) -> Path:
    return settings.index_dir / CONVERSATIONS_DB


def owner_key(username: str | None, browser_id: str | None) -> str | None:
    """'user:<login>' when signed in, else 'browser:<id>' for a well-formed browser id, else None (not saved)."""
    if username:
        return f"user:{username}"
    if browser_id and _BROWSER_ID.match(browser_id):
        return f"browser:{browser_id}"
    return None


def new_browser_id() -> str:
    return uuid.uuid4().hex


def title_of(turns: list[dict]) -> str:
    """The first question, on one line, cut at a word near TITLE_CHARS."""
    first = " ".join((turns[0].get("question") or "").split()) if turns else ""
    if len(first) <= TITLE_CHARS:
        return first or "Untitled"
    cut = first.rfind(" ", 20, TITLE_CHARS)
    return first[: cut if cut > 0 else TITLE_CHARS] + "…"


@dataclass(frozen=True)
class Summary:
    """One row of the conversation list."""

    id: str
    title: str
    updated_at: float

    def label(self, now: float | None = None) -> str:
        return f"{self.title} · {when(self.updated_at, now)}"


def when(ts: float, now: float | None = None) -> str:
    """'14:05' today, 'yesterday 14:05', else '3 Mar 14:05' (server local time)."""
    now = time.time() if now is None else now
    t, today = time.localtime(ts), time.localtime(now)
    hm = time.strftime("%H:%M", t)
    if t.tm_yday == today.tm_yday and t.tm_year == today.tm_year:
        return hm
    if time.localtime(now - 86400)[:3] == t[:3]:
        return f"yesterday {hm}"
    return time.strftime("%-d %b %H:%M", t)


class ConversationStore:
    """Per-owner conversations; safe to use from the UI's worker threads."""

    def __init__(self, path: Path, max_conversations: int = 50) -> None:
        self.path = Path(path)
        self.max_conversations = max_conversations
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        return open_sqlite(self.path, "conversation store",
                           [_SCHEMA, "CREATE INDEX IF NOT EXISTS by_owner ON conversations (owner, updated_at)"])

    def save(self, owner: str, conv_id: str | None, turns: list[dict]) -> str:
        """Create or update the owner's conversation; returns its id. Another owner's id is never touched."""
        now = time.time()
        data = json.dumps(turns[-MAX_TURNS:], ensure_ascii=False)
        with self._lock, self._connect() as con:
            row = con.execute("SELECT owner FROM conversations WHERE id = ?", (conv_id,)).fetchone() if conv_id else None
            if row is None or row[0] != owner:
                conv_id = uuid.uuid4().hex
                con.execute("INSERT INTO conversations VALUES (?,?,?,?,?,?)", (conv_id, owner, title_of(turns), now, now, data))
            else:
                con.execute("UPDATE conversations SET turns = ?, updated_at = ? WHERE id = ? AND owner = ?",
                            (data, now, conv_id, owner))
            con.execute("DELETE FROM conversations WHERE owner = ? AND id NOT IN (SELECT id FROM conversations "
                        "WHERE owner = ? ORDER BY updated_at DESC LIMIT ?)", (owner, owner, self.max_conversations))
        return conv_id

    def list(self, owner: str | None) -> list[Summary]:
        """The owner's conversations, newest first."""
        if not owner or not self.path.is_file():
            return []
        with self._lock, self._connect() as con:
            rows = con.execute("SELECT id, title, updated_at FROM conversations WHERE owner = ? ORDER BY updated_at DESC",
                               (owner,)).fetchall()
        return [Summary(*r) for r in rows]

    def load(self, owner: str | None, conv_id: str | None) -> list[dict] | None:
        """The turns of the owner's conversation, or None (unknown id, or someone else's)."""
        if not owner or not conv_id or not self.path.is_file():
            return None
        with self._lock, self._connect() as con:
            row = con.execute("SELECT turns FROM conversations WHERE id = ? AND owner = ?", (conv_id, owner)).fetchone()
        return json.loads(row[0]) if row else None

    def delete(self, owner: str | None, conv_id: str | None) -> bool:
        if not owner or not conv_id or not self.path.is_file():
            return False
        with self._lock, self._connect() as con:
            return con.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (conv_id, owner)).rowcount > 0
