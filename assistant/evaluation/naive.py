"""The naive baseline: the "LangChain tutorial" RAG pipeline over the same sources and embeddings.

- split: RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) over each source's text;
- retrieve: dense top-4 from Chroma (its own collection, cached under <index_dir>/eval-naive);
- generate, LLM engines: assistant.prompts.NAIVE_PROMPT with the four chunks pasted as context, one
  user message to the same chat model; no numbering, no citation rules, no refusal guard, no
  follow-up condensing (the question alone is sent);
- generate, extractive engine: the top-ranked chunk's first two sentences, verbatim (no table logic).
"""

from __future__ import annotations

import hashlib
import time

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage

from ..prompts import NAIVE_PROMPT
from ..sources import SourceDoc
from ..text import sentence_spans
from .metrics import Chunk, Output, is_refusal, output_citations

CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 1000, 200, 4
FIRST_SENTENCES = 2


class NaivePipeline:
    """Built once per eval run; `answer(question, engine)` returns an `Output` like ours."""

    def __init__(self, sources: list[SourceDoc], embeddings, cache_dir, model_label: str) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        self.docs: list[Document] = []
        for src in sources:
            for i, doc in enumerate(splitter.create_documents([src.text], metadatas=[{"source_id": src.source_id}])):
                doc.id = f"naive-{src.source_id}-{i}"
                self.docs.append(doc)
        digest = hashlib.sha256(f"{model_label}|{CHUNK_SIZE}|{CHUNK_OVERLAP}".encode())
        for doc in self.docs:
            digest.update(f"{doc.id}\x00{doc.page_content}\x00".encode())
        self.store = _open_store(cache_dir, f"naive-{digest.hexdigest()[:16]}", embeddings, self.docs)

    def retrieve(self, question: str, k: int = 10) -> list[Document]:
        return self.store.similarity_search(question, k=k)

    def answer(self, question: str, engine) -> Output:
        t0 = time.perf_counter()
        top10 = self.retrieve(question, 10)
        context = top10[:TOP_K]
        error = None
        if engine.generative:
            prompt = NAIVE_PROMPT.format(context="\n\n".join(d.page_content for d in context), question=question)
            try:
                text = "".join(engine.stream_messages([HumanMessage(prompt)])).strip()
            except Exception as exc:  # noqa: BLE001 - a failed answer is scored, not fatal
                text, error = "", f"{type(exc).__name__}: {exc}"
        else:
            text = first_sentences(context[0].page_content) if context else ""
        cited, invalid = output_citations(text, len(context))
        return Output(text=text, refused=is_refusal(text), retrieved=[_chunk(d) for d in top10],
                      passages=[_chunk(d) for d in context], cited=cited, invalid=invalid,
                      latency_ms=(time.perf_counter() - t0) * 1000, standalone=question, error=error)


def first_sentences(text: str, n: int = FIRST_SENTENCES) -> str:
    spans = sentence_spans(text)[:n]
    return " ".join(" ".join(text[s:e].split()) for s, e in spans)


def _chunk(doc: Document) -> Chunk:
    return Chunk(doc.id or "", doc.page_content)


def _open_store(cache_dir, name: str, embeddings, docs: list[Document]):
    """The cached collection `name` (built when missing or incomplete); stale naive collections are dropped."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    cache_dir.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(cache_dir), settings=ChromaSettings(anonymized_telemetry=False))
    for col in client.list_collections():
        col_name = getattr(col, "name", col)
        if col_name.startswith("naive-") and col_name != name:
            client.delete_collection(col_name)
    store = Chroma(client=client, collection_name=name, embedding_function=embeddings)
    if store._collection.count() != len(docs):
        client.delete_collection(name)
        store = Chroma(client=client, collection_name=name, embedding_function=embeddings)
        store.add_documents(docs, ids=[d.id for d in docs])
    return store
