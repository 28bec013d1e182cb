"""User-facing errors. Each says what went wrong and how to fix it; the CLI and UI print them.

Under tests the real exception propagates, so tests assert on the type and its fields.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: `problem` names what is wrong, `fix` says what to run or change."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}\nFix: {self.fix}" if self.fix else self.problem

    def to_dict(self) -> dict[str, str]:
        return {"error": type(self).__name__, "problem": self.problem, "fix": self.fix}


class ConfigError(AssistantError):
    """A setting or a name (engine, store mode, model) is not valid."""


class UnknownNameError(ConfigError):
    """A registry lookup failed; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]) -> None:
        super().__init__(
            f"Unknown {kind} {name!r}.",
            f"Use one of: {', '.join(sorted(valid))}.",
        )
        self.valid = list(valid)


class CorpusError(AssistantError):
    """The corpus folder or one of its files cannot be used."""


class TokenizerError(AssistantError):
    """The bundled tokenizer file is missing or does not match its checksum."""


class IndexMissingError(AssistantError):
    """No index has been built yet."""


class IndexCorruptError(AssistantError):
    """The index exists but cannot be read."""


class IndexWriteError(AssistantError):
    """The index folder cannot be written (read-only, full, or not a folder)."""


class IngestBusyError(AssistantError):
    """Another ingest holds the index lock."""


class StoreUnavailableError(AssistantError):
    """The Chroma server cannot be reached."""


class QuestionError(AssistantError):
    """The question is empty, too long, or otherwise unusable."""


class EngineUnavailableError(AssistantError):
    """An engine was chosen that cannot run here (missing extra, key or server)."""


class EngineFailedError(AssistantError):
    """An LLM engine failed while answering (down, timed out, malformed output)."""
