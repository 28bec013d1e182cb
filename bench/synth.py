"""Synthetic corpora for the scale runs, generated on the fly from the related docs (never committed).

Variant v of a related doc is that doc with about a quarter of its words (4+ letters) swapped,
deterministically (seeded by v and the file name), for another word of the same length from the
same docs. Markup, headings and lengths survive, so the chunker cuts a variant into about as many
chunks of about the same size as the original, and every chunk's text (hence its id) is new.
"""

from __future__ import annotations

import random
import re
import shutil
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[A-Za-z]{4,}")
RATE = 0.25
EXT = {"markdown": ".md", "rst": ".rst", "text": ".txt"}


def related_files(corpus_dir: Path, related_dir: Path) -> list[tuple[str, str, str]]:
    """(stem, extension by declared format, text) of each related doc listed in sources.toml."""
    specs = tomllib.loads((corpus_dir / "sources.toml").read_text(encoding="utf-8")).get("sources", [])
    out = []
    for spec in specs:
        path = related_dir / spec["file"]
        if not path.is_file():
            continue
        fmt = spec.get("format") or {".md": "markdown", ".rst": "rst"}.get(path.suffix, "text")
        out.append((path.stem, EXT.get(fmt, ".txt"), path.read_text(encoding="utf-8")))
    if not out:
        raise FileNotFoundError(f"no related docs found in {related_dir}")
    return out


def vocabulary(texts: list[str]) -> dict[int, list[str]]:
    """Words of 4+ letters by length, sorted (so the choice is deterministic)."""
    by_len: dict[int, set[str]] = defaultdict(set)
    for text in texts:
        for w in _WORD.findall(text):
            by_len[len(w)].add(w)
    return {n: sorted(ws) for n, ws in by_len.items()}


def perturb(text: str, seed: str, vocab: dict[int, list[str]], rate: float = RATE) -> str:
    """`text` with about `rate` of its 4+-letter words swapped for same-length words; same seed, same text."""
    rng = random.Random(seed)

    def swap(m: re.Match) -> str:
        if rng.random() >= rate:
            return m.group(0)
        choices = vocab.get(len(m.group(0)))
        return choices[rng.randrange(len(choices))] if choices else m.group(0)

    return _WORD.sub(swap, text)


def chunks_per_file(files: list[tuple[str, str, str]], chunk_tokens: int) -> dict[str, int]:
    """How many chunks the real chunker makes of each related doc read as a user file."""
    from assistant.chunking import chunk_source
    from assistant.sources import SourceDoc

    fmts = {".md": "markdown", ".rst": "rst", ".txt": "text"}
    return {stem: len(chunk_source(SourceDoc(f"user-{stem}", stem, "", text, fmts[ext], "user"), chunk_tokens))
            for stem, ext, text in files}


def write_corpus(dest: Path, target_chunks: int, corpus_dir: Path, related_dir: Path, chunk_tokens: int = 200) -> dict:
    """A corpus folder: the guide plus synthetic variants of the related docs, about `target_chunks` chunks."""
    from assistant.chunking import chunk_source
    from assistant.sources import load_guide

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ("guide.txt", "guide.toml"):
        shutil.copy2(corpus_dir / name, dest / name)  # no sources.toml: only the guide and the synthetic files
    guide_chunks = len(chunk_source(load_guide(dest, 10_000_000), chunk_tokens))
    files = related_files(corpus_dir, related_dir)
    per_file = chunks_per_file(files, chunk_tokens)
    files.sort(key=lambda f: (per_file[f[0]], f[0]))  # small first: the last files added can land near the target
    vocab = vocabulary([t for _s, _e, t in files])
    expected, written, variant = guide_chunks, 0, 0
    while expected < target_chunks or not written:
        folder = dest / "synthetic" / f"v{variant:04d}"
        added = 0
        for stem, ext, text in files:
            n = per_file[stem]
            if (written or added) and expected + n - target_chunks > target_chunks - expected:
                continue  # it would overshoot the target by more than leaving it out misses it (one file at least)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{stem}{ext}").write_text(perturb(text, f"{variant}:{stem}", vocab), encoding="utf-8")
            expected += n
            added += 1
        written += added
        variant += 1
        if not added:
            break
    return {"target_chunks": target_chunks, "expected_chunks": expected, "files": written, "variants": variant,
            "guide_chunks": guide_chunks}


def synthetic_chunks(base, n: int, vocab: dict[int, list[str]], start: int = 0) -> list:
    """`n` Documents made from `base` chunk Documents round-robin, each text perturbed, ids and sources new."""
    from langchain_core.documents import Document

    out = []
    for i in range(start, start + n):
        src = base[i % len(base)]
        variant = i // len(base)
        text = perturb(src.page_content, f"chunk:{i}", vocab)
        meta = dict(src.metadata)
        meta["source_id"] = f"synthetic-v{variant:05d}-{src.metadata['source_id']}"
        meta["chunk_id"] = f"{meta['source_id']}:{i:08d}"
        meta["primary"] = False
        meta["quote"] = text.split("\n", 1)[-1] if meta.get("kind") == "prose" else meta.get("quote", text)
        out.append(Document(page_content=text, metadata=meta, id=meta["chunk_id"]))
    return out


def perturbed_vectors(base: np.ndarray, n: int, start: int = 0, noise: float = 0.35) -> np.ndarray:
    """`n` unit vectors: base row (i mod len) plus seeded Gaussian noise (cosine to its base ~0.8-0.9)."""
    d = base.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    for j, i in enumerate(range(start, start + n)):
        rng = np.random.default_rng(i)
        v = base[i % len(base)] + rng.standard_normal(d).astype(np.float32) * (noise / np.sqrt(d))
        out[j] = v / np.linalg.norm(v)
    return out
