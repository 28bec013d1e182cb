"""The peer row: the naive tutorial pipeline (RecursiveCharacterTextSplitter(1000, 200), dense top-4)
timed on the same questions and corpus. It is the eval harness's own baseline
(`assistant.evaluation.naive.NaivePipeline`) when present; otherwise a minimal equivalent here."""

from __future__ import annotations

import time
from pathlib import Path

from .measure import summary_ms


class MinimalNaive:
    """Split 1000/200, embed, dense top-4; the extractive 'answer' is the top chunk's first two sentences."""

    def __init__(self, sources, embeddings, cache_dir: Path, model_label: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.docs = [d for s in sources for d in splitter.create_documents([s.text], metadatas=[{"source_id": s.source_id}])]
        client = chromadb.PersistentClient(path=str(cache_dir), settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(client=client, collection_name=f"naive-{model_label}", embedding_function=embeddings)
        self.store.add_documents(self.docs, ids=[f"naive-{i}" for i in range(len(self.docs))])

    def retrieve(self, question: str, k: int = 4):
        return self.store.similarity_search(question, k=k)

    def answer(self, question: str, engine=None):
        from assistant.text import sentence_spans

        top = self.retrieve(question, 4)
        text = top[0].page_content if top else ""
        return " ".join(" ".join(text[s:e].split()) for s, e in sentence_spans(text)[:2])


def naive_class():
    try:
        from assistant.evaluation.naive import NaivePipeline

        return NaivePipeline, "assistant.evaluation.naive.NaivePipeline"
    except ImportError:
        return MinimalNaive, "bench.peer.MinimalNaive"


def run_peer(settings, embeddings, questions: list[str], rounds: int, work: Path) -> dict:
    """Build the naive index over the same sources, then time its extractive answer and its retrieval."""
    from assistant.embeddings import model_label
    from assistant.engines.extractive import ExtractiveEngine
    from assistant.sources import collect_corpus

    cls, name = naive_class()
    corpus = collect_corpus(settings.corpus_dir, related=True, related_dir=settings.related_dir,
                            cache_dir=settings.index_dir / "related-cache", max_bytes=settings.max_file_bytes)
    t0 = time.perf_counter()
    naive = cls(corpus.docs, embeddings, work / "naive", model_label(settings.embedding_model))
    build_s = time.perf_counter() - t0
    engine = ExtractiveEngine()
    for q in questions:
        naive.answer(q, engine)
    answer, retrieve = [], []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            naive.answer(q, engine)
            answer.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            naive.retrieve(q, 4)
            retrieve.append(time.perf_counter() - t0)
    return {"pipeline": name, "chunks": len(naive.docs), "build_s": round(build_s, 2),
            "answer_extractive": summary_ms(answer), "retrieve_top4": summary_ms(retrieve)}
