"""The guide's five questions as a deterministic recommender (no LLM).

Each answer maps to a signal (which stack it favours, how strongly) and to the guide's own words
for it. Only the *mapping* lives here: every quoted sentence is found in the index (the chunk
whose quote contains the key) and cited from there, so the reasons can never drift from what the
index holds. A key the index lacks gives an uncited reason flagged as such.

Weights follow the guide's emphasis: AI/ML is "significant enough to make Python the strong
default" and the team is "the single most important variable" (2 each); the other signals 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.documents import Document

from .answer import Citation
from .text import sentence_spans

NODE, PYTHON = "Node.js", "Python"


@dataclass(frozen=True)
class Signal:
    side: str  # NODE, PYTHON or "" (no pull)
    weight: float
    reason: str
    evidence: tuple[str, ...] = ()  # sentence keys to find in the index, or "factor:<row>"


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    options: dict[str, Signal]


QUESTIONS: tuple[Question, ...] = (
    Question("data_flow", "What is the core data flow of your product?", {
        "Requests mostly wait on I/O (databases, APIs, file reads)": Signal(
            NODE, 1, "Your requests mostly wait on I/O, where Node.js shines.",
            ("If requests mostly wait on I/O", "factor:Performance (I/O)")),
        "Requests trigger computation (ML inference, data transformation)": Signal(
            PYTHON, 1, "Your requests trigger computation, where Python is better positioned.",
            ("If requests trigger computation", "factor:Performance (CPU)")),
        "A mix, or not sure yet": Signal("", 0, "Your data flow does not pull either way."),
    }),
    Question("ai", "Does your product need AI or ML features now or in the next 12 months?", {
        "Yes": Signal(PYTHON, 2, "You need AI/ML within 12 months: the guide makes Python the strong default.",
                      ("make Python the strong default", "factor:AI / ML Ecosystem")),
        "No": Signal("", 0, "No AI/ML features planned, so the AI ecosystem does not decide it."),
    }),
    Question("team", "What language does your engineering team already write best?", {
        "JavaScript / TypeScript": Signal(
            NODE, 2, "Your team writes JavaScript best, and familiarity compounds.",
            ("Familiarity compounds", "If your first three engineers all write JavaScript")),
        "Python": Signal(
            PYTHON, 2, "Your team writes Python best, and familiarity compounds.",
            ("Familiarity compounds", "if you're hiring data scientists who breathe Python")),
        "Both equally, or no team yet": Signal("", 0, "Your team does not favour either language."),
    }),
    Question("full_stack", "Do you need a unified full-stack JavaScript experience (code shared with a React/Vue frontend)?", {
        "Yes": Signal(NODE, 1, "You want one language front and back: Node.js gives a compelling advantage.",
                      ("Node.js provides a compelling advantage", "factor:Full-Stack JS")),
        "No": Signal("", 0, "A unified JavaScript stack is not a requirement."),
    }),
    Question("security", "What are your security and compliance requirements?", {
        "Strict: strong guarantees out of the box": Signal(
            PYTHON, 1, "Strict security out of the box: Django gives more built-in protection.",
            ("Django (Python) provides more built-in protection", "factor:Security (Built-in)")),
        "Standard": Signal("", 0, "Standard security needs do not decide it."),
    }),
)

BOTH_KEY = "Many successful startups, including those at scale, run both."
PMF_KEY = "If you're pre-product-market-fit, pick one and ship."
SPECIALIZE_KEY = "it's pragmatic specialization"
LATER_KEY = "You can always introduce the other when a specific problem demands it."
TEAM_KEY = "Use whatever your team is already excellent at."


@dataclass
class Reason:
    text: str
    side: str
    markers: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # evidence keys the index did not have


@dataclass
class Recommendation:
    verdict: str  # NODE, PYTHON, "Both" or "Either"
    headline: str
    node_score: float
    python_score: float
    reasons: list[Reason]
    advice: list[Reason]
    citations: list[Citation]


class _Citer:
    """Numbers citations [1..n] in first-use order: one per passage, with every sentence used highlighted."""

    def __init__(self, docs: list[Document]) -> None:
        self.docs = sorted(docs, key=lambda d: (not d.metadata.get("primary"), d.metadata.get("start", 0)))
        self.citations: list[Citation] = []

    def cite(self, reason: str, side: str, keys: tuple[str, ...]) -> Reason:
        out = Reason(reason, side)
        for key in keys:
            cit = self._find(key)
            if cit is None:
                out.missing.append(key)
                continue
            same = next((c for c in self.citations if c.chunk_id == cit.chunk_id), None)
            if same is None:
                cit.n = len(self.citations) + 1
                self.citations.append(cit)
                same = cit
            elif cit.highlight[0] not in same.highlight:
                same.highlight.append(cit.highlight[0])
            if same.n not in out.markers:
                out.markers.append(same.n)
        return out

    def _find(self, key: str) -> Citation | None:
        found = locate(key, self.docs)
        return _citation(*found) if found else None


def product_pulls() -> list[tuple[str, str]]:
    """(factor-table row, side) for every product need of the five questions that the guide ties to a row
    (the team's language is not a product need): what "the product still matters" points at."""
    out: list[tuple[str, str]] = []
    for question in QUESTIONS:
        if question.key == "team":
            continue
        for signal in question.options.values():
            out += [(key.split(":", 1)[1], signal.side) for key in signal.evidence if key.startswith("factor:") and signal.side]
    return out


def locate(key: str, docs: list[Document]) -> tuple[Document, tuple[int, int] | None] | None:
    """The passage holding an evidence key ("factor:<row>" or a sentence fragment) and the span of the
    sentence around it (None: the whole row). The chat's extractive engine cites Decide's reasons with it."""
    if key.startswith("factor:"):
        name = key.removeprefix("factor:")
        doc = next((d for d in docs if d.metadata.get("kind") == "factor_row" and d.metadata.get("factor") == name), None)
        return (doc, None) if doc else None
    for doc in docs:
        quote = doc.metadata.get("quote") or doc.page_content
        at = quote.find(key)
        if at >= 0:
            return doc, _sentence_around(quote, at, at + len(key))
    return None


def _sentence_around(quote: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or line) of `quote` that contains [start, end)."""
    line_start = quote.rfind("\n", 0, start) + 1
    line_end = quote.find("\n", end)
    line_end = len(quote) if line_end < 0 else line_end
    for s, e in sentence_spans(quote[line_start:line_end]):
        if line_start + s <= start and end <= line_start + e:
            return line_start + s, line_start + e
    return start, end


def _citation(doc: Document, span: tuple[int, int] | None) -> Citation:
    m = doc.metadata
    quote = m.get("quote") or doc.page_content
    return Citation(n=0, chunk_id=m["chunk_id"], source_id=m["source_id"], title=m["title"], section=m["section"],
                    url=m["url"], quote=quote, start=m["start"], end=m["end"], highlight=[span or (0, len(quote))],
                    factor=m.get("factor", ""), winner=m.get("winner", ""), node_cell=m.get("node_cell", ""),
                    python_cell=m.get("python_cell", ""))


# How a headline names what was weighed: the Decide tab's form answers, or what a chat question describes.
_WEIGHED = {False: ("your answers", "favour", "Your answers split"), True: ("what you describe", "favours", "What you describe splits")}


def recommend(answers: dict[str, str | None], docs: list[Document], *, has_pmf: bool = False,
              described: bool = False) -> Recommendation:
    """Score the answers (question key -> option label) and cite every reason from `docs` (the index).
    `described`: the answers were read from a chat question, not picked in the Decide tab's form."""
    weighed, favour, split = _WEIGHED[described]
    citer = _Citer(docs)
    reasons: list[Reason] = []
    score = {NODE: 0.0, PYTHON: 0.0}
    for q in QUESTIONS:
        choice = answers.get(q.key)
        if choice is None:
            continue
        if choice not in q.options:
            raise ValueError(f"{choice!r} is not an answer to {q.key!r}; use one of {list(q.options)}")
        sig = q.options[choice]
        if sig.side:
            score[sig.side] += sig.weight
        reasons.append(citer.cite(sig.reason, sig.side, sig.evidence))
    node, py = score[NODE], score[PYTHON]
    team_side = next((q.options[answers["team"]].side for q in QUESTIONS if q.key == "team" and answers.get("team")), "")
    lead = NODE if node > py else PYTHON if py > node else team_side
    other = PYTHON if lead == NODE else NODE
    strong_both = node >= 2 and py >= 2
    advice: list[Reason] = []
    if node == 0 and py == 0:
        verdict = "Either"
        headline = f"Nothing in {weighed} pulls either way: use whatever your team is already excellent at."
        advice.append(citer.cite(headline, "", (TEAM_KEY,)))
    elif strong_both and has_pmf:
        verdict = "Both"
        headline = ("Run both: a Node.js layer for real-time API traffic and client-facing endpoints, Python services "
                    "for ML inference, data processing and analytics.")
        advice.append(citer.cite("Running both is pragmatic specialization if you plan for it from the start.", "",
                                 (BOTH_KEY, SPECIALIZE_KEY)))
    elif strong_both:
        verdict = lead or "Both"
        headline = (f"{lead} first; add {other} later, when a specific problem demands it." if lead else
                    f"{split} evenly: pick the stack your team knows, ship, and add the other later.")
        advice.append(citer.cite("Many startups end up running both, Node.js for real-time traffic and Python for ML and data.",
                                 "", (BOTH_KEY,)))
        advice.append(citer.cite("Before product-market fit, avoid premature complexity: pick one and ship.", "",
                                 (PMF_KEY, LATER_KEY)))
    elif node == py:
        verdict = lead or "Either"
        headline = (f"Close call; {lead} because your team knows it best." if lead else
                    "A close call: use whatever your team is already excellent at, and ship.")
        advice.append(citer.cite("The best technology is the one your team can move fast with.", "", (TEAM_KEY,)))
    else:
        verdict = lead
        headline = f"{lead}: {weighed} {favour} it {_fmt(score[lead])} to {_fmt(score[other])}."
        if score[other] >= 1:
            advice.append(citer.cite(f"If {other}'s strengths become essential later, you can introduce it then; "
                                     "before product-market fit, pick one and ship.", "", (PMF_KEY, LATER_KEY)))
    return Recommendation(verdict, headline, node, py, reasons, advice, citer.citations)


def _fmt(x: float) -> str:
    return f"{x:g}"
