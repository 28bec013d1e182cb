"""The assistant as one object: the loaded index, a retriever, engines built once per spec.

The CLI, the UI, the eval harness and the benchmarks all go through `Assistant`, so models load
once per process and every surface answers the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .answer import Answer
from .chain import build_chain, collect
from .config import Settings
from .engines import build_engine, default_spec, parse_spec
from .engines.extractive import ExtractiveEngine
from .knowledge import KnowledgeBase, load_knowledge
from .plan import Planner
from .refusal import english_words
from .retrieval import build_retriever


class Assistant:
    def __init__(self, settings: Settings, kb: KnowledgeBase | None = None) -> None:
        self.settings = settings
        self.kb = kb or load_knowledge(settings)
        self.retriever = build_retriever(self.kb)
        self.extractive = ExtractiveEngine(self.kb.idf, library=self.kb.docs)
        self.planner = Planner(self.kb.store.embeddings.embed_documents, [d.metadata["factor"] for d in self.kb.factor_rows],
                               cache_dir=settings.models_dir, model_label=settings.embedding_model or "bundled-minilm")
        self._engines: dict[str, object] = {"extractive": self.extractive}
        self._chains: dict[tuple[str, int], object] = {}
        self._lock = threading.Lock()
        self.default_spec = default_spec(settings)
        # The guard's English word list (~0.3 s to read) loads beside the first question, not in its path.
        threading.Thread(target=english_words, name="english-words", daemon=True).start()

    @property
    def topics(self) -> list[str]:
        seen: list[str] = []
        for d in self.kb.docs:
            sec = d.metadata.get("section", "")
            if d.metadata.get("primary") and sec and sec not in seen and sec != "Introduction":
                seen.append(sec)
        return seen

    def engine(self, spec: str | None = None):
        spec = spec or self.default_spec
        name, arg = parse_spec(spec)
        key = f"{name}:{arg}" if arg else name
        with self._lock:
            if key not in self._engines:
                self._engines[key] = build_engine(spec, self.settings)
            return self._engines[key]

    def chain(self, spec: str | None = None, k: int | None = None):
        engine = self.engine(spec)
        key = (engine.spec, k or self.settings.k)
        with self._lock:
            if key not in self._chains:
                retriever = self.retriever if not k else build_retriever(self.kb, k=k)
                self._chains[key] = build_chain(
                    retriever, engine, fallback=self.extractive, vocabulary=self.kb.vocabulary,
                    idf=self.kb.idf, min_relevance=self.settings.min_relevance,
                    min_coverage=self.settings.min_coverage, max_question_chars=self.settings.max_question_chars,
                    topics=self.topics, planner=self.planner, sentence_vectors=self.kb.sentence_vectors)
            return self._chains[key]

    def stream(self, question: str, history: list[dict] | None = None, *, llm: str | None = None,
               k: int | None = None) -> Iterator[dict]:
        return self.chain(llm, k).stream({"question": question, "history": history or []})

    def ask(self, question: str, history: list[dict] | None = None, *, llm: str | None = None, k: int | None = None) -> Answer:
        return collect(self.stream(question, history, llm=llm, k=k))
