"""The answering chain, in LCEL, built from its parts by `build_chain(retriever, engine)`.

Steps (each a named runnable): clean (incl. dropping prompt-injection clauses) → condense → plan (the question
understood once: assistant/plan.py) → retrieve → number → guard → prompt →
generate (streams tokens) → parse citations → validate. `chain.stream(inputs)` yields
`{"token": str}` events while the engine writes, an optional `{"reset": notice}` when a fallback
replaces what was shown, and finally `{"answer": Answer}`.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from collections.abc import Iterator

from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda, RunnablePassthrough

from .answer import Answer, Citation, Passage, Timings
from .citations import MARKER, validate_citations
from .engines.base import Engine, EnginePrompt
from .engines.extractive import ExtractiveEngine
from .engines.llm import format_passages
from .errors import EngineFailedError
from .grounding import Checker
from .plan import Planner, QuestionPlan
from .prompts import NO_QUESTION_TEMPLATE, OTHER_LANGUAGE_TEMPLATE, REFUSAL_TEMPLATE, SYSTEM_PROMPT
from .question import clean_question, condense, strip_injection, topic_query
from .refusal import judge
from .sentence_vectors import SentenceVectors

NOT_COVERED = "doesn't cover"
_WORD = re.compile(r"[^\W\d_]{2,}")


def _ngrams(text: str, n: int) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


# Six-word runs of the system prompt's rules (not its first, descriptive line, nor the refusal
# sentence the model is told to write): an answer containing one is repeating its instructions.
_LEAK_N = 6
_PROMPT_RUNS = _ngrams(SYSTEM_PROMPT.split("\n", 1)[1], _LEAK_N) - _ngrams("The guide doesn't cover that.", _LEAK_N)


# A passage header as PASSAGE_TEMPLATE writes it ("[2] (Guide — Factor table)" + newline): an
# answer containing one is replaying its prompt's context (small models do), injected text and all.
_PASSAGE_HEADER = re.compile(r"\[\d{1,3}\]\s*\([^()\n]{0,300} — [^()\n]{0,300}\)[ \t]*\n")


def leaks_prompt(text: str) -> bool:
    """True when `text` repeats the system prompt's rules or replays the prompt's numbered passages."""
    return bool(_PASSAGE_HEADER.search(text)) or not _ngrams(text, _LEAK_N).isdisjoint(_PROMPT_RUNS)


def says_something(text: str) -> bool:
    """A word besides citation markers and the stacks' names (small models sometimes answer with
    markers and names alone, "[1] Node.js [2][3] [4] Python", which asserts nothing)."""
    words = [w for w in _WORD.findall(MARKER.sub(" ", text).lower()) if w not in _NAMES_ONLY]
    return bool(words)


_NAMES_ONLY = {"node", "js", "nodejs", "python", "and", "or", "vs", "versus"}


def build_chain(retriever, engine: Engine, *, fallback: ExtractiveEngine | None = None, vocabulary: set[str] | None = None,
                idf: dict[str, float] | None = None, min_relevance: float = 0.0, min_coverage: float = 0.0,
                max_question_chars: int = 4000, topics: list[str] | None = None, planner: Planner | None = None,
                sentence_vectors: SentenceVectors | None = None) -> Runnable:
    """Compose the chain. Input: {"question": str, "history": [{"role", "content"}, ...]}. Without a
    `planner` the question is not classified (every plan is None) and engines read the question alone.
    `sentence_vectors`: the index's shared cache (KnowledgeBase.sentence_vectors); one on the planner's
    encoder when not given."""
    fallback = fallback or ExtractiveEngine()
    if planner is not None and sentence_vectors is None:
        sentence_vectors = SentenceVectors(planner.embed)
    if sentence_vectors is not None:  # extractive answers choose their sentences with the retrieval model too
        for extractive in {id(e): e for e in (engine, fallback) if isinstance(e, ExtractiveEngine)}.values():
            extractive.use_vectors(sentence_vectors)
    vocabulary = vocabulary or set()
    topic_list = ", ".join(topics or ["performance", "scalability", "AI/ML", "the factor table"])
    texts = {"refusal": REFUSAL_TEMPLATE.format(topics=topic_list), "no_question": NO_QUESTION_TEMPLATE.format(topics=topic_list),
             "other_language": OTHER_LANGUAGE_TEMPLATE.format(topics=topic_list)}

    def clean(inputs: dict) -> dict:
        question = clean_question(inputs.get("question"), max_question_chars)
        query, injected = strip_injection(question)
        return {"t0": time.perf_counter(), "history": _turns(inputs.get("history")), "question": question,
                "query": query, "injection": injected}

    def retrieve(x: dict) -> dict:
        t = time.perf_counter()
        if not x["standalone"]:  # nothing left to search for (only instructions, or only punctuation)
            return {"docs": [], "ms": 0.0}
        plan: QuestionPlan | None = x["plan"]
        search = getattr(retriever, "search", None)
        docs = search(plan) if plan is not None and search is not None else retriever.invoke(x["standalone"])
        return {"docs": docs, "ms": (time.perf_counter() - t) * 1000}

    def guard(x: dict):
        question = x["standalone"]
        as_asked = getattr(retriever, "best_similarity", None)
        second_look = (lambda: as_asked(question)) if as_asked and topic_query(question) != question else None
        return judge(question, x["retrieved"]["docs"], vocabulary, idf or {}, min_relevance, min_coverage, second_look,
                     plan=x["plan"])

    def prompt(x: dict) -> EnginePrompt | None:
        if x["verdict"].refuse:
            return None
        return _prepare(engine, x["standalone"], x["retrieved"]["docs"], x["plan"])

    def cover(x: dict) -> QuestionPlan | None:
        """The plan, plus the names the guard found nowhere in the corpus as what the answer must say
        the guide does not cover."""
        plan: QuestionPlan | None = x["plan"]
        if plan is not None and x["verdict"].uncovered:
            plan = replace(plan, uncovered=(*plan.uncovered, *x["verdict"].uncovered))
        return plan

    checker = Checker(sentence_vectors) if sentence_vectors is not None else None  # the retrieval model's, not a second one

    def generate(stream: Iterator[dict]) -> Iterator[dict]:
        x: dict = {}
        for chunk in stream:  # RunnableAssign streams the prepared dict in pieces
            x.update(chunk)
        yield from _generate(x, engine, fallback, texts, checker)

    prepare = (
        RunnableLambda(clean).with_config(run_name="clean")
        | RunnablePassthrough.assign(standalone=RunnableLambda(lambda x: condense(x["query"], x["history"]))).with_config(run_name="condense")
        | RunnablePassthrough.assign(plan=RunnableLambda(lambda x: planner.plan(x["standalone"]) if planner else None)).with_config(run_name="plan")
        | RunnablePassthrough.assign(retrieved=RunnableLambda(retrieve)).with_config(run_name="retrieve")
        | RunnablePassthrough.assign(context=RunnableLambda(lambda x: format_passages(x["retrieved"]["docs"]))).with_config(run_name="number")
        | RunnablePassthrough.assign(verdict=RunnableLambda(guard)).with_config(run_name="guard")
        | RunnablePassthrough.assign(plan=RunnableLambda(cover)).with_config(run_name="cover")
        | RunnablePassthrough.assign(prompt=RunnableLambda(prompt)).with_config(run_name="prompt")
    )
    return (prepare | RunnableGenerator(generate).with_config(run_name="generate")).with_config(run_name="answer")


def _valid_text(piece: str) -> str:
    """A model's token as valid UTF-8 text: a lone surrogate (a model or server may emit half of a
    pair) becomes '?', so the answer can always be printed, stored and sent as JSON."""
    return piece.encode("utf-8", "replace").decode("utf-8")


def _turns(history) -> list[dict]:
    """Earlier turns as {'role', 'content'} dicts; anything else a client sent is dropped, not trusted."""
    if not isinstance(history, (list, tuple)):
        return []
    return [t for t in history if isinstance(t, dict) and isinstance(t.get("content"), str)]


def _generate(x: dict, engine: Engine, fallback: ExtractiveEngine, texts: dict[str, str],
              checker: Checker | None = None) -> Iterator[dict]:
    passages: list[Document] = x["retrieved"]["docs"]
    timings = Timings(retrieve_ms=round(x["retrieved"]["ms"], 2))
    base = {"question": x["question"], "standalone_question": x["standalone"], "passages": _passages(passages),
            "engine": engine.spec}
    if x["verdict"].refuse:
        text = texts["no_question"] if not x["standalone"] else \
            texts["other_language"] if x["verdict"].other_language else texts["refusal"]
        yield {"token": text}
        yield {"answer": _finish(Answer(text=text, refused=True, timings=timings, **base), x["t0"], x["t0"])}
        return
    prompt: EnginePrompt = x["prompt"]
    yield {"prompt": prompt}  # what the [n] of the tokens that follow name (a stopped answer keeps its sources)
    notice = None
    first = None
    removed: list[str] = []  # sentences of the LLM answer no shown passage supports (kept on the Answer when it falls back too)
    if engine.generative:
        pieces: list[str] = []
        try:
            for piece in engine.write(prompt):
                piece = _valid_text(piece)
                first = first or time.perf_counter()
                pieces.append(piece)
                if leaks_prompt("".join(pieces)):  # stop before the rest of the prompt is shown
                    raise EngineFailedError(f"{engine.spec} repeated its prompt instead of answering", "None needed; the passages are quoted instead.")
                yield {"token": piece}
            raw = "".join(pieces)
            if not raw.strip():
                raise EngineFailedError(f"{engine.spec} returned an empty answer", "Check the model.")
            if not says_something(raw):  # e.g. "[1] Node.js [2][3] [4] Python": cites, says nothing
                raise EngineFailedError(f"{engine.spec} returned no sentence, only {raw.strip()[:40]!r}", "Check the model.")
        except EngineFailedError as exc:
            notice = f"The {engine.spec} engine failed ({exc.problem}); this is the extractive answer instead."
        else:
            text, valid, invalid = parse_and_validate(raw, len(prompt.shown))
            grounded, removed = _ground(checker, text, prompt.shown, timings)
            if valid and NOT_COVERED not in text.lower() and grounded:
                if grounded != text:  # sentences dropped or re-cited: show the checked text in place of the streamed one
                    yield {"reset": _removed_notice(engine.spec, removed)}
                    yield {"token": grounded}
                    text, valid, _ = parse_and_validate(grounded, len(prompt.shown))
                ans = Answer(text=text, citations=[_citation(n, prompt.shown[n - 1], prompt.highlight(n)) for n in valid],
                             invalid_citations=invalid, unsupported_sentences=removed, timings=timings, **base)
                yield {"answer": _finish(ans, x["t0"], first)}
                return
            # The guard already judged the passages relevant; a model that cites nothing, claims they
            # don't cover it, or writes nothing they support is under-using them: the quoted passages answer.
            why = ("said the guide does not cover this" if NOT_COVERED in text.lower() else "cited no passage" if not valid
                   else "had no sentence its passages support")
            notice = f"The {engine.spec} answer {why}, so this is the extractive answer instead."
        yield {"reset": notice}
        prompt = _prepare(fallback, x["standalone"], passages, x["plan"])
        yield {"prompt": prompt}
    writer = engine if notice is None else fallback
    raw = ""
    for piece in writer.write(prompt):
        first = first or time.perf_counter()
        raw += piece
        yield {"token": piece}
    text, valid, invalid = parse_and_validate(raw, len(prompt.shown))
    cited_extra = [] if writer.generative else prompt.shown[len(passages):]  # passages the answer cites from the index
    ans = Answer(text=text, citations=[_citation(n, prompt.shown[n - 1], prompt.highlight(n)) for n in valid],
                 invalid_citations=invalid, fallback_notice=notice, unsupported_sentences=removed, timings=timings,
                 **{**base, "passages": _passages(passages + cited_extra),
                    "engine": writer.spec if notice is None else f"{engine.spec} → extractive"})
    yield {"answer": _finish(ans, x["t0"], first)}


def _ground(checker: Checker | None, text: str, shown: list[Document], timings: Timings) -> tuple[str, list[str]]:
    """(the text with unsupported sentences dropped and missing citations added, the dropped sentences);
    the text is "" when no claim is left. Without a checker (no encoder) the text is kept as written."""
    if checker is None:
        return text, []
    t = time.perf_counter()
    result = checker.check(text, shown)
    timings.grounding_ms = round((time.perf_counter() - t) * 1000, 2)
    removed = [s.text for s in result.unsupported]
    kept = result.checked_text()
    if result.claims and len(removed) == len(result.claims):
        return "", removed
    return kept, removed


def _removed_notice(spec: str, removed: list[str]) -> str:
    if not removed:
        return f"The {spec} answer's citations were corrected to the passages that support each sentence."
    return (f"{len(removed)} sentence{'s' if len(removed) > 1 else ''} of the {spec} answer that the cited passages "
            "do not support were removed.")


def _prepare(engine: Engine, question: str, passages: list[Document], plan: QuestionPlan | None) -> EnginePrompt:
    """The engine's prompt, carrying the plan (an engine that shapes its answer by intent reads it there)."""
    prompt = engine.prepare(question, passages)
    if plan is not None and prompt.plan is None:
        prompt.plan = plan
        prompt.draft = ""  # composed again, by intent, when written (engines/extractive.py)
    return prompt


def parse_and_validate(raw: str, n_passages: int) -> tuple[str, list[int], list[int]]:
    """Parse [n] markers; keep only those naming a passage 1..n_passages."""
    return validate_citations(raw, set(range(1, n_passages + 1)))


def partial_answer(question: str, text: str, prompt: EnginePrompt | None, engine: str) -> Answer:
    """The Answer of an answer cut short (the user stopped it): the text written so far, citing the
    passages of `prompt` (the stream's last `prompt` event) that its [n] markers name."""
    shown = prompt.shown if prompt is not None else []
    text, valid, invalid = parse_and_validate(text, len(shown))
    return Answer(question=question, standalone_question=prompt.question if prompt else question, text=text,
                  citations=[_citation(n, shown[n - 1], prompt.highlight(n)) for n in valid],
                  invalid_citations=invalid, engine=engine)


def _citation(n: int, doc: Document, highlight: list[tuple[int, int]] | None) -> Citation:
    m = doc.metadata
    quote = m.get("quote") or doc.page_content
    if m.get("kind") == "factor_row" or not highlight:
        highlight = [(0, len(quote))]
    return Citation(n=n, chunk_id=m["chunk_id"], source_id=m["source_id"], title=m["title"], section=m["section"],
                    url=m["url"], quote=quote, start=m["start"], end=m["end"], highlight=highlight,
                    factor=m.get("factor", ""), winner=m.get("winner", ""), node_cell=m.get("node_cell", ""),
                    python_cell=m.get("python_cell", ""))


def _passages(docs: list[Document]) -> list[Passage]:
    return [Passage(n=n, chunk_id=d.metadata["chunk_id"], source_id=d.metadata["source_id"], section=d.metadata["section"],
                    kind=d.metadata["kind"], dense_score=d.metadata.get("dense_score", 0.0),
                    fused_score=round(d.metadata.get("fused_score", 0.0), 5)) for n, d in enumerate(docs, start=1)]


def _finish(ans: Answer, t0: float, first: float | None) -> Answer:
    now = time.perf_counter()
    ans.timings.first_token_ms = round(((first or now) - t0) * 1000, 2)
    ans.timings.total_ms = round((now - t0) * 1000, 2)
    return ans


def collect(events: Iterator[dict]) -> Answer:
    """Drain a chain stream and return the final Answer."""
    answer = None
    for event in events:
        if "answer" in event:
            answer = event["answer"]
    assert answer is not None, "the chain ended without an answer"
    return answer
