"""The extractive engine: no LLM, deterministic, instant. Also the fallback for every LLM engine.

It answers the intent of the question's plan (assistant/plan.py):
- choose: the factor table's verdict (winner or tie) with both cells, cited to the row, plus the best
  supporting guide sentence; where the guide's prose says the opposite of the row, both, cited;
- scenario: one cited line per need the question names, weighed as the Decide tab weighs them
  (assistant/decide.py), and the guide's recommendation;
- advice: the guide's own advice on choosing (team first, not trends), then any needs weighed;
- explain / fact: the most relevant sentences of the passages, quoted verbatim — no table verdict;
- list: the guide's list lines.
A partly covered question first says what the guide does not cover.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from langchain_core.documents import Document

from ..citations import MARKER
from ..decide import PMF_KEY, TEAM_KEY, locate, product_pulls, recommend
from ..plan import QuestionPlan
from ..question import ASKS_FOR_LIST, INJECTION, weighs_stacks
from ..sentence_vectors import SentenceVectors
from ..text import sentence_spans, terms, tokens
from .base import EnginePrompt

_LIST_LINES = 16  # lines of a list answer at most
_FIGURE_IN = re.compile(r"\d")  # a quoted sentence that gives a figure has a digit ("k Workers" gives none)
# With an encoder, a sentence's score is its cosine similarity to the question plus this share of the
# question's IDF weight it shares (the rare words a question names still count).
LEXICAL_SHARE = 1.0
# The guide's advice on how to choose at all (Team composition, Running both), found in the index by
# these sentence keys.
TREND_KEY = "Choosing a backend stack based on what's trending"
FAMILIAR_KEY = "Familiarity compounds."
UNDECIDED_KEY = "work through these five questions"
_STACK = {"Node.js": r"node(?:\.?js)?", "Python": r"python|django"}


@dataclass
class Composition:
    """Answer text plus, per passage number, the spans of its quote that were used; `shown` are the
    passages numbered [1]..[n] (the retrieved ones, then any the answer cites from the index)."""

    text: str
    highlights: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    shown: list[Document] = field(default_factory=list)

    def cite(self, doc: Document, span: tuple[int, int] | None) -> int:
        """The passage's number (added to `shown` when it was not retrieved), its span highlighted."""
        cid = doc.metadata.get("chunk_id")
        n = next((i for i, d in enumerate(self.shown, start=1) if d.metadata.get("chunk_id") == cid), 0)
        if not n:
            self.shown.append(doc)
            n = len(self.shown)
        quote = _quote(doc)
        self.highlights.setdefault(n, []).append(span or (0, len(quote)))
        return n


class ExtractiveEngine:
    """Keeps the `Engine` contract (engines/base.py): not generative, never busy. `library` is the
    index's passages, for the guide's advice and Decide's reasons when retrieval did not bring them."""

    name = "extractive"
    spec = "extractive"
    generative = False
    exclusive = False

    def __init__(self, idf: dict[str, float] | None = None, library: list[Document] | None = None) -> None:
        self._idf = idf or {}
        self._library = [d for d in (library or []) if d.metadata.get("primary") and not d.metadata.get("parent_id")]
        self._vectors: SentenceVectors | None = None

    def use_vectors(self, vectors: SentenceVectors) -> None:
        """Choose quoted sentences by meaning as well as shared words, with the retrieval model's sentence
        vectors (the index's shared cache), so a sentence that answers in other words can be quoted."""
        self._vectors = vectors

    def _similarities(self, question: str, sentences: list[str]) -> list[float]:
        """Cosine similarity of each sentence to the question (0.0 each without sentence vectors)."""
        if self._vectors is None or not sentences:
            return [0.0] * len(sentences)
        return [float(s) for s in self._vectors.corpus(sentences) @ self._vectors.query(question)]

    def prepare(self, question: str, passages: list[Document], plan: QuestionPlan | None = None) -> EnginePrompt:
        comp = self.compose(question, passages, plan)
        return EnginePrompt(question=question, shown=comp.shown, draft=comp.text, highlights=comp.highlights, plan=plan)

    def write(self, prompt: EnginePrompt) -> Iterator[str]:
        if prompt.plan is not None and not prompt.draft:
            done = self.prepare(prompt.question, prompt.shown, prompt.plan)
            prompt.shown, prompt.draft, prompt.highlights = done.shown, done.draft, done.highlights
        # The whole composed answer as one piece: it exists in full already, and one piece is one UI
        # update instead of one per word (the queue serves many founders at once).
        yield prompt.draft

    def compose(self, question: str, passages: list[Document], plan: QuestionPlan | None = None) -> Composition:
        if not passages:
            return Composition("The guide doesn't cover that.")
        intent = plan.intent if plan else ("choose" if weighs_stacks(question) else "fact")
        comp = self._answer(question, list(passages), plan, intent)
        uncovered = plan.uncovered if plan else ()
        if plan and plan.asks_figure and not _gives_figure(MARKER.sub("", comp.text), plan.figure_terms):
            uncovered = (*uncovered, "the figure asked for")  # quoted sentences without a number do not give it
        if uncovered:
            comp.text = f"The guide does not cover {_join(uncovered)}. What it does say: {comp.text}"
        return comp

    def _answer(self, question: str, passages: list[Document], plan: QuestionPlan | None, intent: str) -> Composition:
        if plan is not None and plan.reasons_for:  # "why Python?": the guide's signals for choosing it
            section = f"When to choose {plan.reasons_for}"
            found = next((d for d in [*passages, *self._library] if d.metadata.get("section") == section
                          and d.metadata.get("primary")), None)
            if found is not None:
                at = next((i for i, d in enumerate(passages) if d is found), None)
                if at is None:
                    passages.append(found)
                    at = len(passages) - 1
                return self._list_answer(passages, at)
        if intent in ("list", "choose", "fact", "advice") and ASKS_FOR_LIST.search(question):  # the guide's list, not one row
            listed, overlap = self._list_passage(question, passages[:3])
            if listed is not None and overlap:
                return self._list_answer(passages, listed)
        if plan is not None and intent == "scenario" and plan.needs:
            return self._scenario(question, passages, plan)
        if plan is not None and intent == "advice":
            return self._advice(question, passages, plan)
        if intent in ("choose", "scenario") or (intent == "fact" and weighs_stacks(question) and plan is None):
            row_n = self._verdict_row(passages)
            if row_n:
                return self._verdict(question, passages, row_n)
        return self._sentences(question, passages, exclude_kind="factor_row" if intent == "explain" else "")

    # -- factor verdicts ---------------------------------------------------------------
    @staticmethod
    def _verdict_row(passages: list[Document]) -> int | None:
        for n, doc in enumerate(passages[:3], start=1):
            if doc.metadata.get("kind") == "factor_row":
                return n
        return None

    def _verdict(self, question: str, passages: list[Document], n: int) -> Composition:
        m = passages[n - 1].metadata
        factor, winner = m["factor"], m["winner"]
        if winner == "Tie":
            head = f"The guide's factor table calls {factor} a tie ({_win_note(m['quote'])}) [{n}]."
        else:
            head = f"{winner} wins on {factor} in the guide's factor table [{n}]."
        cells = f"Node.js: {m['node_cell']}; Python: {m['python_cell']} [{n}]."
        comp = Composition(f"{head} {cells}", {n: [(0, len(m["quote"]))]}, list(passages))
        against = self._contradiction(factor, winner, passages)
        if against is not None:
            doc, span, sentence = against
            cn = comp.cite(doc, span)
            comp.text += (f" The guide contradicts its own table here: its {doc.metadata.get('section', 'prose')} section says "
                          f"\"{sentence}\" [{cn}]")
            return comp
        support = self._best_units(question + " " + factor, passages, limit=1, exclude_kind="factor_row", guide_only=True)
        for sn, (s, e), sentence in support:
            comp.text += f" {sentence} [{sn}]"
            comp.highlights.setdefault(sn, []).append((s, e))
        return comp

    def _contradiction(self, factor: str, winner: str, passages: list[Document]) -> tuple[Document, tuple[int, int], str] | None:
        """A guide sentence saying the row's winner is slower/weaker/worse than the other side on the
        row's subject (the Performance section vs the CPU row)."""
        if winner not in _STACK:
            return None
        loser = "Python" if winner == "Node.js" else "Node.js"
        claim = re.compile(rf"\b(?:{_STACK[winner]})\b[^.]{{0,40}}\b(?:slower|weaker|worse|less suited)\s+than\s+(?:{_STACK[loser]})\b", re.I)
        subject = set(terms(factor)) - set(terms("performance ecosystem apps"))
        seen = set()
        for doc in list(passages) + self._library:
            if not doc.metadata.get("primary") or doc.metadata.get("kind") == "factor_row" or id(doc) in seen:
                continue
            seen.add(id(doc))
            text = _quote(doc)
            for s, e in sentence_spans(text):
                sentence = text[s:e]
                if claim.search(sentence) and subject & set(terms(sentence)):
                    return doc, (s, e), " ".join(sentence.split())
        return None

    # -- the guide's weighing ----------------------------------------------------------
    def _scenario(self, question: str, passages: list[Document], plan: QuestionPlan) -> Composition:
        comp = Composition("", {}, list(passages))
        lines = self._weighing(comp, plan)
        comp.text = "\n".join(lines)
        return comp

    def _weighing(self, comp: Composition, plan: QuestionPlan) -> list[str]:
        """Decide's recommendation for the plan's needs: one cited line per need, then its headline and advice."""
        docs = self._library or comp.shown
        rec = recommend(plan.decide_answers(), docs, has_pmf=plan.has_pmf, described=True)
        numbers = {}
        for c in rec.citations:
            found = next((d for d in docs if d.metadata.get("chunk_id") == c.chunk_id), None)
            if found is not None:
                numbers[c.n] = comp.cite(found, None if found.metadata.get("kind") == "factor_row" else tuple(c.highlight[0]))
        labels = {(n.key, n.option): n.label for n in plan.needs}
        answers = plan.decide_answers()
        # The recommendation first (what a founder asked for), then one line per need it rests on.
        lines = [f"{rec.headline.rstrip('.')}, by the guide's weighing.{''.join(_marks(a.markers, numbers) for a in rec.advice[:1])}"]
        for reason, (key, option) in zip(rec.reasons, answers.items()):
            label = labels.get((key, option), key)
            lines.append(f"- {label[0].upper()}{label[1:]}: {reason.text}{_marks(reason.markers, numbers)}")
        for a in rec.advice[1:]:
            lines.append(f"{a.text}{_marks(a.markers, numbers)}")
        return lines

    def _advice(self, question: str, passages: list[Document], plan: QuestionPlan) -> Composition:
        comp = Composition("", {}, list(passages))
        # Needs of its own (an ML product asking whether to move to the other stack): the recommendation for them
        # comes first, the guide's advice on switching and choosing after it.
        weighing = self._weighing(comp, plan) if plan.needs else []
        parts = []
        # The guide's advice on choosing first (what the question asks for), then what the passages say
        # about the question's own subject.
        for key in (TREND_KEY, TEAM_KEY, FAMILIAR_KEY):
            found = locate(key, list(passages) + self._library)
            if found is not None:
                doc, span = found
                parts.append(f"{_sentence(doc, span)} [{comp.cite(doc, span)}]")
        for n, span, sentence in self._best_units(question, passages, limit=1, exclude_kind="factor_row"):
            if sentence not in " ".join(parts):
                parts.append(f"{sentence} [{n}]")
                comp.highlights.setdefault(n, []).append(span)
        if weighing:
            comp.text = "\n".join(weighing) + "\n" + " ".join(parts)
            return comp
        rows = {d.metadata.get("factor"): d for d in list(passages) + self._library if d.metadata.get("kind") == "factor_row"}
        pulls = []
        for factor, side in product_pulls():  # the rows Decide's product questions rest on
            row = rows.get(factor)
            if row is not None:
                cell = row.metadata["node_cell"] if side == "Node.js" else row.metadata["python_cell"]
                pulls.append(f"{factor}: {side} is \"{cell}\" [{comp.cite(row, None)}]")
        if pulls:
            parts.append("What the product needs still matters; " + "; ".join(pulls) + ".")
        found = locate(PMF_KEY, list(passages) + self._library)
        if found is not None:
            parts.append(f"{_sentence(found[0], found[1])} [{comp.cite(*found)}]")
        comp.text = " ".join(parts) if parts else self._sentences(question, passages).text
        return comp

    # -- quoted sentences ---------------------------------------------------------------
    def _sentences(self, question: str, passages: list[Document], exclude_kind: str = "") -> Composition:
        units = self._best_units(question, passages, limit=4, exclude_kind=exclude_kind)
        if not units:
            units = [(1, *self._first_unit(passages[0]))]
        units.sort(key=lambda u: (u[0], u[1][0]))
        comp = Composition("", {}, list(passages))
        parts = []
        for n, (s, e), sentence in units:
            parts.append(f"{sentence} [{n}]")
            comp.highlights.setdefault(n, []).append((s, e))
        comp.text = "According to the sources: " + " ".join(parts)
        return comp

    @staticmethod
    def _list_passage(question: str, passages: list[Document]) -> tuple[int | None, int]:
        """(index, title overlap) of the list-like passage whose section title best matches the question."""
        q = set(tokens(question))  # stemmed: "companies" meets the "Company examples" section
        best, best_overlap = None, 0
        for i, doc in enumerate(passages):
            lines = [ln for ln in _quote(doc).split("\n") if ln.strip()]
            if len(lines) < 4 or sum(len(ln) < 200 for ln in lines) < len(lines) * 0.6:
                continue
            overlap = len(q & set(tokens(doc.metadata.get("section", ""))))
            if overlap > best_overlap:
                best, best_overlap = i, overlap
        return best, best_overlap

    @staticmethod
    def _list_answer(passages: list[Document], listed: int) -> Composition:
        """The list's lines in text order, each cited; a list that spans chunks continues with the other
        retrieved passages of the same section ("The five questions" is two chunks)."""
        doc = passages[listed]
        same = [(n, d) for n, d in enumerate(passages, start=1)
                if d.metadata.get("source_id") == doc.metadata.get("source_id")
                and d.metadata.get("section") == doc.metadata.get("section")]
        same.sort(key=lambda nd: nd[1].metadata.get("start", 0))
        comp = Composition(f"From \"{doc.metadata.get('section', '')}\" [{listed + 1}]:\n", {}, list(passages))
        shown = 0
        for n, part in same:
            content, pos = _quote(part), 0
            for line in [ln for ln in content.split("\n") if ln.strip()]:
                start = content.find(line, pos)
                pos = start + len(line)
                if shown == _LIST_LINES:
                    break
                if INJECTION.search(line):
                    continue
                comp.text += f"- {line.strip()} [{n}]\n"
                comp.highlights.setdefault(n, []).append((start, pos))
                shown += 1
        comp.text = comp.text.rstrip()
        return comp

    def _best_units(self, question: str, passages: list[Document], *, limit: int, exclude_kind: str = "",
                    guide_only: bool = False) -> list[tuple[int, tuple[int, int], str]]:
        q = set(terms(question))
        q_weight = sum(self._idf.get(t, 1.0) for t in q) or 1.0
        candidates = []
        for n, doc in enumerate(passages, start=1):
            m = doc.metadata
            if (exclude_kind and m.get("kind") == exclude_kind) or (guide_only and not m.get("primary")):
                continue
            if m.get("kind") == "factor_row":
                units = [(0, len(doc.page_content), doc.page_content)]
            else:
                text = m.get("quote", doc.page_content)
                units = [(a, b, text[a:b]) for a, b in sentence_spans(text) if b - a > 25]
            for s, e, sentence in units:
                if INJECTION.search(sentence):  # orders aimed at an assistant are not an answer, even quoted
                    continue
                overlap = q & set(terms(sentence))
                if overlap or self._vectors is not None:
                    candidates.append((sum(self._idf.get(t, 1.0) for t in overlap), n, (s, e), sentence))
        sims = self._similarities(question, [c[3] for c in candidates])
        scored = []
        for (lexical, n, span, sentence), sim in zip(candidates, sims):
            if self._vectors is None:
                score = lexical / (1 + 0.15 * (n - 1))
            else:  # meaning first, shared (rare) words second, a gentle preference for higher-ranked passages
                score = (sim + LEXICAL_SHARE * lexical / q_weight) / (1 + 0.05 * (n - 1))
            scored.append((score, n, span, sentence))
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        picked, seen = [], set()
        for _score, n, span, sentence in scored:
            if sentence in seen:
                continue
            seen.add(sentence)
            picked.append((n, span, " ".join(sentence.split())))
            if len(picked) == limit:
                break
        return picked

    @staticmethod
    def _first_unit(doc: Document) -> tuple[tuple[int, int], str]:
        text = _quote(doc)
        spans = sentence_spans(text)
        span = spans[0] if spans else (0, len(text))
        return span, text[span[0]:span[1]].strip()


def _gives_figure(text: str, counted: tuple[str, ...]) -> bool:
    """Does a sentence of `text` hold a number about what the question counts (any number when that is unknown)?
    It must name two of the counted words when there are two or more: "page loading times by 50–60%" is no
    count of "paid signups"."""
    need = min(2, len(counted))
    for a, b in sentence_spans(text):
        sentence = text[a:b]
        if _FIGURE_IN.search(sentence) and len(set(counted) & set(tokens(sentence))) >= need:
            return True
    return False


def _quote(doc: Document) -> str:
    return doc.metadata.get("quote") or doc.page_content


def _win_note(quote: str) -> str:
    cells = [c.strip() for c in quote.strip().strip("|").split("|")]
    return cells[-1] if cells else "Tie"


def _sentence(doc: Document, span: tuple[int, int] | None) -> str:
    text = _quote(doc)
    s, e = span or (0, len(text))
    return " ".join(text[s:e].split())


def _marks(markers: list[int], numbers: dict[int, int]) -> str:
    out = "".join(f" [{numbers[m]}]" for m in markers if m in numbers)
    return out.replace("] [", "][")


def _join(items: tuple[str, ...]) -> str:
    items = tuple(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
