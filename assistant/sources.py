"""Load the corpus: the guide (primary), the related sources of sources.toml, and user files.

A file that cannot be used is skipped and reported as a `Problem` naming the file and the fix;
everything else still loads. Related sources come from a local mirror (`related_dir`) or are
downloaded once into a cache under the index folder.
"""

from __future__ import annotations

import hashlib
import html
import re
import tomllib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .errors import CorpusError

USER_FORMATS = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text", ".html": "html", ".htm": "html"}
OWN_FILES = {"guide.txt", "guide.toml", "sources.toml", "README.md"}


@dataclass(frozen=True)
class SourceDoc:
    """One source's full text plus what citations need to point back at it."""

    source_id: str
    title: str
    url: str
    text: str
    fmt: str  # guide | markdown | rst | text
    origin: str  # guide | related | user
    primary: bool = False
    path: str = ""
    as_of: str = ""
    structure: dict | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Problem:
    """A file or source that was skipped, why, and how to fix it."""

    name: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.name}: {self.problem} (fix: {self.fix})"


@dataclass
class Corpus:
    docs: list[SourceDoc]
    problems: list[Problem]


def read_text_file(path: Path, max_bytes: int) -> str:
    """Read a UTF-8 text file or raise CorpusError saying exactly what is wrong with it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(f"{path.name} is {size:,} bytes, over the {max_bytes:,}-byte limit",
                              "split it, or raise ASSISTANT_MAX_FILE_BYTES")
        data = path.read_bytes()
    except CorpusError:
        raise
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{path.name} cannot be read ({exc.__class__.__name__}: {exc})",
                          "check that the file exists and is readable") from exc
    if not data.strip():
        raise CorpusError(f"{path.name} is empty", "add text to it or remove it")
    if b"\x00" in data[:8192]:
        raise CorpusError(f"{path.name} looks binary (contains NUL bytes)", "remove it; only text files are ingested")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path.name} is not valid UTF-8 (byte {exc.start})", "re-save it as UTF-8") from exc
    if not re.search(r"\w", text):
        raise CorpusError(f"{path.name} has no words in it", "add text to it or remove it")
    return text.replace("\r\n", "\n")


def load_guide(corpus_dir: Path, max_bytes: int) -> SourceDoc:
    meta_path = corpus_dir / "guide.toml"
    try:
        meta = tomllib.loads(read_text_file(meta_path, max_bytes))
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{meta_path} is not valid TOML: {exc}", "fix the syntax (see git history)") from exc
    src = meta["source"]
    text = read_text_file(corpus_dir / src["file"], max_bytes)
    return SourceDoc(src["id"], src["title"], src.get("url", ""), text, "guide", "guide",
                     primary=bool(src.get("primary", True)), path=str(corpus_dir / src["file"]),
                     as_of=str(src.get("as_of", "")), structure={"table": meta["table"], "sections": meta["sections"]})


def related_manifest(corpus_dir: Path) -> list[dict]:
    path = corpus_dir / "sources.toml"
    if not path.is_file():
        return []
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("sources", [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not valid TOML: {exc}", "fix the syntax of corpus/sources.toml") from exc


def load_related(specs: list[dict], related_dir: Path | None, cache_dir: Path, max_bytes: int,
                 timeout: float = 20.0) -> tuple[list[SourceDoc], list[Problem]]:
    """Each related source from the mirror folder, or downloaded into `cache_dir` once."""
    docs, problems = [], []
    for spec in specs:
        name = spec.get("file") or spec.get("id", "?")
        try:
            path = (related_dir / name) if related_dir else _download(spec, cache_dir, timeout)
            if related_dir and not path.is_file():
                raise CorpusError(f"not found in {related_dir}", f"put {name} there or drop --related-dir to download it")
            text = read_text_file(path, max_bytes)
        except CorpusError as exc:
            problems.append(Problem(f"related source {spec.get('id', name)}", exc.problem, exc.fix))
            continue
        fmt = spec.get("format") or USER_FORMATS.get(Path(name).suffix.lower(), "text")
        docs.append(SourceDoc(spec["id"], spec["title"], spec.get("url", ""), _as_text(text, fmt),
                              "text" if fmt == "html" else fmt, "related", path=str(path)))
    return docs, problems


def _download(spec: dict, cache_dir: Path, timeout: float) -> Path:
    import httpx

    url = spec["raw_url"]
    target = cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{Path(spec['file']).name}"
    if target.is_file():
        return target
    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=True)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise CorpusError(f"cannot download {url} ({exc.__class__.__name__}: {exc})",
                          "check the network, or use --related-dir with a local copy") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(resp.content)
    tmp.replace(target)
    return target


def load_user_files(corpus_dir: Path, max_bytes: int) -> tuple[list[SourceDoc], list[Problem]]:
    """Files a user dropped into the corpus folder (.md, .rst, .txt, .html), each its own source."""
    docs, problems = [], []
    for path in sorted(p for p in corpus_dir.rglob("*") if not p.is_dir() or p.suffix.lower() in USER_FORMATS):
        rel = path.relative_to(corpus_dir)
        if path.name in OWN_FILES and path.parent == corpus_dir or any(part.startswith(".") for part in rel.parts):
            continue
        fmt = USER_FORMATS.get(path.suffix.lower())
        if fmt is None:
            problems.append(Problem(str(rel), f"unsupported file type {path.suffix or '(none)'!r}",
                                    f"convert it to one of {', '.join(sorted(USER_FORMATS))} or move it out of the corpus folder"))
            continue
        try:
            if path.is_dir():
                raise CorpusError(f"{rel} is a folder with a document's name", "rename or remove it")
            text = read_text_file(path, max_bytes)
        except CorpusError as exc:
            problems.append(Problem(str(rel), exc.problem, exc.fix))
            continue
        source_id = "user-" + re.sub(r"[^a-z0-9]+", "-", str(rel.with_suffix("")).lower()).strip("-")
        title = _title_of(text, fmt) or rel.stem.replace("-", " ").replace("_", " ").title()
        docs.append(SourceDoc(source_id, title, str(Path(corpus_dir.name) / rel), _as_text(text, fmt),
                              "text" if fmt == "html" else fmt, "user", path=str(path)))
    return docs, problems


def _title_of(text: str, fmt: str) -> str:
    if fmt == "markdown":
        m = re.search(r"^#\s+(.+)$", text, re.M)
        return m.group(1).strip() if m else ""
    if fmt == "html":
        m = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        return html.unescape(m.group(1)).strip()[:200] if m else ""
    return ""


def _as_text(text: str, fmt: str) -> str:
    return _HTMLText.convert(text) if fmt == "html" else text


class _HTMLText(HTMLParser):
    """HTML to plain text: script/style dropped, block elements become paragraph breaks."""

    BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section", "article", "pre"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)

    @classmethod
    def convert(cls, markup: str) -> str:
        parser = cls()
        parser.feed(markup)
        parser.close()
        text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
        return re.sub(r"\n\s*\n+", "\n\n", text).strip() + "\n"


def collect_corpus(corpus_dir: Path, *, related: bool, related_dir: Path | None, cache_dir: Path,
                   max_bytes: int) -> Corpus:
    """Everything to index. Raises CorpusError only when the corpus folder or the guide is unusable."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"The corpus folder {corpus_dir} does not exist.",
                          "Run from the project folder, or set ASSISTANT_CORPUS_DIR to the folder holding guide.txt.")
    problems: list[Problem] = []
    docs: list[SourceDoc] = []
    try:
        docs.append(load_guide(corpus_dir, max_bytes))
    except (CorpusError, KeyError, OSError) as exc:
        fix = getattr(exc, "fix", "") or "restore corpus/guide.txt and corpus/guide.toml from git"
        problems.append(Problem("guide", getattr(exc, "problem", str(exc)), fix))
    if related or related_dir:
        rel_docs, rel_problems = load_related(related_manifest(corpus_dir), related_dir, cache_dir, max_bytes)
        docs += rel_docs
        problems += rel_problems
    user_docs, user_problems = load_user_files(corpus_dir, max_bytes)
    return Corpus(docs + user_docs, problems + user_problems)
