"""Keep secrets out of logs, errors, reports and feedback."""

from __future__ import annotations

import os
import re

_KEYISH = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|[A-Za-z0-9_\-]{32,})\b")
SECRET_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_API_KEY", "ASSISTANT_AUTH")


def redact(text: str) -> str:
    """Replace every configured secret value and anything key-shaped with '***'."""
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return _KEYISH.sub("***", text)
