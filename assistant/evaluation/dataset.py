"""The labelled cases (eval/cases.jsonl) and the ground truth they are checked against: the guide's
factor table, parsed from the corpus itself. A case whose `gold_winner` disagrees with the table
stops the run (`TableDriftError`), so the labels can never silently drift from the guide."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssistantError
from ..factors import WINNERS, FactorRow, parse_factor_table

CASE_TYPES = ("winner", "fact", "list", "followup", "out_of_scope", "injection", "related",
              "explain", "advice", "scenario", "partly_covered")  # the last four: real questions (eval/real_questions.md)
FIELDS = ("id", "question", "type", "factor", "gold_winner", "must_include", "must_not_include", "gold_evidence",
          "answerable", "history", "source")
OPTIONAL = ("intent", "url", "notes")  # the real sets' extra fields
INTENTS = ("choose", "explain", "fact", "list", "scenario", "advice", "out_of_scope")


class DatasetError(AssistantError):
    """eval/cases.jsonl is malformed."""


class TableDriftError(AssistantError):
    """A case's label disagrees with the guide's factor table (or the index disagrees with the corpus)."""


@dataclass(frozen=True)
class Case:
    """One line of eval/cases.jsonl (schema: eval/README.md)."""

    id: str
    question: str
    type: str
    factor: str | None
    gold_winner: str | None
    must_include: list[list[str]]
    must_not_include: list[str]
    gold_evidence: str | None
    answerable: bool
    history: list[dict] = field(default_factory=list)
    source: str | None = None
    intent: str | None = None  # real sets: what the founder wants (one of INTENTS)
    url: str | None = None  # real sets: where the question was asked
    notes: str | None = None  # real sets: what a correct answer says


def load_cases(path: Path) -> list[Case]:
    """Read and validate the cases file; DatasetError names the line and the problem."""
    cases: list[Case] = []
    seen: set[str] = set()
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path}:{lineno}"
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{where} is not JSON ({exc}).", "One JSON object per line, no blank lines.") from exc
        missing = [f for f in FIELDS if f not in raw]
        if missing:
            raise DatasetError(f"{where} lacks {', '.join(missing)}.", "Every field is present; null or [] when it does not apply.")
        case = Case(**{f: raw[f] for f in FIELDS}, **{f: raw.get(f) for f in OPTIONAL})
        problem = _problem(case) or (f"duplicate id {case.id!r}" if case.id in seen else "")
        if problem:
            raise DatasetError(f"{where} ({case.id}): {problem}.", "See the schema in eval/README.md.")
        seen.add(case.id)
        cases.append(case)
    return cases


def _problem(case: Case) -> str:
    if case.type not in CASE_TYPES:
        return f"type {case.type!r} is not one of {', '.join(CASE_TYPES)}"
    if case.intent is not None and case.intent not in INTENTS:
        return f"intent {case.intent!r} is not one of {', '.join(INTENTS)}"
    if case.type in ("explain", "advice", "scenario", "partly_covered") and not case.answerable:
        return f"a {case.type} case is answerable (out-of-scope questions are type out_of_scope)"
    if not case.id.startswith(f"{case.type}-"):
        return f"id does not start with '{case.type}-'"
    if (case.factor is None) != (case.gold_winner is None):
        return "factor and gold_winner are set together or not at all"
    if case.gold_winner is not None and case.gold_winner not in WINNERS:
        return f"gold_winner {case.gold_winner!r} is not one of {', '.join(WINNERS)}"
    if case.type == "winner" and case.factor is None:
        return "a winner case needs factor and gold_winner"
    if case.answerable != (case.gold_evidence is not None) or case.answerable != (case.source is not None):
        return "gold_evidence and source are set exactly when answerable is true"
    if not case.answerable and case.must_include:
        return "an unanswerable case has no must_include"
    if (case.type == "followup") != bool(case.history):
        return "history is set exactly for followup cases"
    if any(not entry or not all(isinstance(a, str) for a in entry) for entry in case.must_include):
        return "must_include is a list of non-empty lists of strings"
    return ""


def factor_table(corpus_dir: Path) -> tuple[tuple[str, ...], list[FactorRow]]:
    """(header, rows) of the factor table, parsed from corpus/guide.txt at the lines guide.toml names."""
    meta = tomllib.loads((corpus_dir / "guide.toml").read_text(encoding="utf-8"))
    table = meta["table"]
    text = (corpus_dir / meta["source"]["file"]).read_text(encoding="utf-8")
    return parse_factor_table(text, table["header_line"], table["first_row"], table["last_row"])


def check_against_table(cases: list[Case], rows: list[FactorRow], index_rows: list[dict] | None = None) -> None:
    """Raise TableDriftError listing every case whose factor/gold_winner disagrees with the table, and
    every factor row of the index whose winner disagrees with the corpus (a stale index)."""
    truth = {row.factor: row.winner for row in rows}
    problems = []
    for case in cases:
        if case.factor is None:
            continue
        if case.factor not in truth:
            problems.append(f"{case.id}: factor {case.factor!r} is not a row of the table ({', '.join(truth)})")
        elif truth[case.factor] != case.gold_winner:
            problems.append(f"{case.id}: gold_winner {case.gold_winner!r} but the table's {case.factor!r} row says {truth[case.factor]!r}")
    for meta in index_rows or []:
        if truth.get(meta["factor"]) != meta["winner"]:
            problems.append(f"index row {meta['factor']!r} says {meta['winner']!r} but corpus/guide.txt says {truth.get(meta['factor'])!r}")
    if problems:
        raise TableDriftError("The eval labels and the guide's factor table have drifted apart:\n  " + "\n  ".join(problems),
                              "Fix the case in eval/cases.jsonl to follow the table (or rebuild the index: assistant ingest).")
