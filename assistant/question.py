"""Question hygiene and follow-up condensing.

Condensing is deterministic (no LLM call): a follow-up such as "and for streaming?" keeps the
previous question's comparison and swaps its topic, and "it"/"they" resolve to the stack the
previous turn was about. An LLM rewrite would cost the local model seconds per turn.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import QuestionError
from .factors import STACK_NAMES
from .text import STOPWORDS

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_CONNECTIVE = re.compile(r"^(?:and|but|so|ok(?:ay)?|also|then)?\s*(?:what|how)\s+about\s+|^(?:and|but|or|also)\s+(?:for\s+|if\s+|with\s+)?|^what\s+if\s+", re.I)
COMPARISON = re.compile(r"\b(better|best|worse|weaker|stronger|win|wins|winner|choose|pick|prefer|should|vs\.?|versus|or|which|recommend|go with|favou?r|edge|advantage|suited|suitable|right)\b", re.I)
# A question that weighs the stacks without a "which"/"better" (a stack called a bad idea, a mistake,
# easier or harder for something).
_WEIGHS = re.compile(r"\b(?:choos\w*|choices?|options?|pick\w*|bad|good|poor|weak|wise|mistake|risk\w*|safer?|easier|harder|faster|slower|"
                     r"quicker|sooner|more|less|fits?|either|over|compar\w*)\b", re.I)
# The comparatives among those that name a dimension of the comparison (speed, ease, safety), not the framing.
_DIMENSION = re.compile(r"safer?|easier|harder|faster|slower|quicker|sooner", re.I)
# Questions after a figure, a name or a date want the sentence that states it, and "how should <a trait>
# shape the choice?" wants the guide's reasoning: not a table verdict.
_FACT = re.compile(r"^\s*(?:how (?:many|much|should|does|do|can|would|to)\b|what (?:percentage|percent|share|proportion|year)|"
                   r"who\b|when (?:did|was|were)|what did\b|in what year)", re.I)
_EXPLICIT = re.compile(r"\b(?:better|best|worse|vs\.?|versus|wins?|winner|compare[sd]?)\b", re.I)


# Asks for one of the guide's lists (the signals for choosing a stack, the companies behind each).
ASKS_FOR_LIST = re.compile(r"\b(when|list|signals?|reasons?|questions?|which (?:[\w-]+ ){0,2}companies|examples?|criteria|checklist)\b", re.I)
# Not the topic of a weighing question: the stacks' names (every passage of this corpus shares them
# with a "Node.js or Python?" question, yet a small embedding model weighs them heavily) and stop words.
_NOT_TOPIC = STOPWORDS | {"use"}


def topic_query(question: str) -> str:
    """What retrieval searches with: for a question that weighs the stacks, its topic without the stacks'
    names, the comparison's framing words and stop words ("Is Node.js the weaker option than Python for
    a model-serving product?" -> "weaker option model-serving product"), so the topic decides which passages come first and
    not the "Node.js vs Python" every passage shares ("a worse fit" must not find "Excellent fit").
    Facts, lists and questions whose subject is one stack are searched as asked."""
    if not weighs_stacks(question) or ASKS_FOR_LIST.search(question):
        return question
    # The framing goes, but not a comparative that names what is weighed ("faster", "easier", "safer"):
    # without it "needed for a faster backend" would be searched as "needed backend".
    framing_removed = STACK_NAMES.sub(" ", _WEIGHS.sub(lambda m: m.group() if _DIMENSION.fullmatch(m.group()) else " ",
                                                       COMPARISON.sub(" ", question)))
    words = [w for w in framing_removed.split() if w.lower().strip(" ,;:?.!'\"") not in _NOT_TOPIC]
    topic = " ".join(words).strip(" ,;:?.!")
    return topic if len(topic.split()) >= 2 else question


def topic_words_source(question: str) -> str:
    """The question without its comparison framing ("which", "better", "should", "pick", ...)."""
    return _WEIGHS.sub(" ", COMPARISON.sub(" ", question))


def split_sentences(text: str) -> list[str]:
    """The sentences (or lines) of a question, stripped, empty ones dropped."""
    return [s.strip() for s in re.split(r"(?<=[.?!])\s+|\n+", text) if s.strip()]


def asking_part(question: str) -> str:
    """The sentences that ask (end in "?") of a question written as several sentences; "" when it is one
    sentence or asks nothing explicitly. A real question often gives context first ("We run X in
    production. …") and asks last; a name in the context is not what is asked about."""
    sentences = split_sentences(question)
    if len(sentences) < 2:
        return ""
    return " ".join(s for s in sentences if s.rstrip(" )\"'").endswith("?"))


def weighs_stacks(question: str) -> bool:
    """Does the question ask to weigh Node.js against Python (a table verdict answers it)?"""
    if _FACT.search(question) and not _EXPLICIT.search(question):
        return False
    return bool(COMPARISON.search(question) or _WEIGHS.search(question))


_WORDY = re.compile(r"[^\W_]")  # a letter or digit: something that can be asked about
_PRONOUN = re.compile(r"\b(it|its|they|them|their|that one|this one)\b", re.I)
_STACKS = ("Node.js", "Python", "Django", "FastAPI")
# Instructions aimed at the assistant rather than questions about the guide.
INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.?!;]{0,40}\b(?:instructions?|rules?|prompts?|guidelines|above|previous|context)\b"
    r"|\bsystem\s+prompt|\bdeveloper\s+mode|\bjailbreak|\byou\s+are\s+now\b|\bact\s+as\b|\bpretend\b|\brole-?play"
    r"|\brepeat\b[^.?!;]{0,30}\b(?:above|everything|verbatim|instructions|prompt)|\breveal\b[^.?!;]{0,30}\b(?:prompt|instructions|rules)"
    r"|\bDAN\b|\bwithout\s+(?:any\s+)?citations?|\bno\s+citations?|\bprint\s+your\b|\bnew\s+instructions?\b"
    r"|\bend\s+(?:your|the)\s+answer\s+with\b|\bsay\s+(?:that\s+)?\w+\s+is\s+(?:the\s+)?best\b|\bSYSTEM\s+NOTICE\b",
    re.I)
_CLAUSE = re.compile(r"(?<=[.?!;:])\s+|\s*,\s*(?:and|then|but)?\s*|\s+(?:and|then|but)\s+(?=(?:tell|say|answer|explain|which|what|how|is|does|should|print|repeat|reveal|end)\b)", re.I)


_ASKS = re.compile(r"(?:which|what|how|why|when|who|where|should|is|are|does|do|can|could|would|will|tell me|compare|explain)\b", re.I)
_SCRIPT = re.compile(r"<\s*(script|style)\b.*?(?:<\s*/\s*\1\s*>|$)", re.I | re.S)
_MARKUP = re.compile(r"<[^<>]{0,200}>")


def strip_injection(question: str) -> tuple[str, bool]:
    """Drop the clauses that instruct the assistant (prompt injection); keep any real question."""
    without_markup = _MARKUP.sub(" ", _SCRIPT.sub(" ", question))
    markup = without_markup != question
    if not INJECTION.search(without_markup):
        return (re.sub(r"\s+", " ", without_markup).strip(), True) if markup else (question, False)
    kept_parts = []
    for sentence in re.split(r"(?<=[.?!])\s+", without_markup):
        if not INJECTION.search(sentence):
            kept_parts.append(sentence.strip())
            continue
        # In a sentence that instructs the assistant, keep only the clauses that ask something
        # ("…and tell me which wins on X"); persona text (who the assistant should pretend to be) goes.
        for clause in _CLAUSE.split(sentence):
            clause = (clause or "").strip()
            if clause and not INJECTION.search(clause) and (clause.endswith("?") or _ASKS.match(clause)):
                kept_parts.append(clause)
    kept = re.sub(r"\s+", " ", " ".join(p for p in kept_parts if p)).strip()
    if not ("?" in kept or _ASKS.search(kept)):
        kept = ""
    return kept, True


def clean_question(raw: object, max_chars: int) -> str:
    """Strip control characters and lone surrogates; reject empty or over-long questions."""
    if not isinstance(raw, str):
        raise QuestionError("The question must be text.", "Type a question, e.g. 'Which handles WebSockets better, Node.js or Python?'")
    text = raw.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become '?'
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty.", "Type a question, e.g. 'Which handles WebSockets better, Node.js or Python?'")
    if len(text) > max_chars:
        raise QuestionError(f"The question is {len(text):,} characters long; the limit is {max_chars:,}.",
                            "Shorten it to the question itself (the guide answers short questions best).")
    return text


def condense(question: str, history: list[dict] | None) -> str:
    """A standalone version of `question` given earlier turns ({'role', 'content'} dicts).

    A `question` with no letter or digit (nothing left once instructions to the assistant were
    dropped, or only punctuation) becomes "", whatever the history: there is nothing to continue,
    and the chain answers it as "no question"."""
    if not _WORDY.search(question):
        return ""
    if not history:
        return question.strip()
    prev_user = next((t["content"] for t in reversed(history) if t.get("role") == "user" and t.get("content")), "")
    prev_any = " ".join(str(t.get("content", "")) for t in history[-2:])
    if not prev_user:
        return question
    standalone = question
    follow_up = bool(_CONNECTIVE.match(question)) or len(question.split()) <= 4
    if follow_up:
        rest = _CONNECTIVE.sub("", question).strip(" ?") or question.strip(" ?")
        standalone = rest[0].upper() + rest[1:] + "?"
        if COMPARISON.search(prev_user) and not COMPARISON.search(rest):
            lead = _CONNECTIVE.match(question)
            if (lead and _CONDITIONAL.search(lead.group(0))) or _SUBJECT.match(rest):
                # A condition ("and if the engineers all write Go?") stays a clause of the question.
                rest = re.sub(r"^(?:if|when)\s+", "", rest, flags=re.I)
                standalone = f"If {rest}, which is better, Node.js or Python?"
            else:  # a topic ("what about hiring?")
                standalone = f"Which is better for {rest}, Node.js or Python?"
    if _PRONOUN.search(standalone):
        stack = _last_stack(prev_any) or _last_stack(prev_user)
        if stack:
            standalone = _PRONOUN.sub(lambda m: stack if m.group(0).lower() not in ("its", "their") else f"{stack}'s", standalone, count=1)
    return standalone


_CONDITIONAL = re.compile(r"\bif\s*$", re.I)
# A follow-up that starts with a subject is a clause ("our team writes Python"), not a topic.
_SUBJECT = re.compile(r"(?:if|when|my|our|we|we're|i|i'm|you|they|the team|the product|everyone)\b", re.I)


def _last_stack(text: str) -> str | None:
    """The stack named first in the text (answers lead with their verdict)."""
    hits = [(text.find(s), s) for s in _STACKS if s in text]
    return min(hits)[1] if hits else None
