"""Stack Assistant's web UI. `python app.py` serves it on http://127.0.0.1:7860
(ASSISTANT_HOST / ASSISTANT_PORT; ASSISTANT_AUTH for a login). Never a public share link.

`create_app(settings)` builds the gr.Blocks without serving it (tests, embedding in other apps).
"""

from __future__ import annotations

from assistant.config import Settings, load_settings


def create_app(settings: Settings | None = None):
    """The UI as a gr.Blocks, not launched."""
    from assistant.ui.app import create_app as build

    return build(settings or load_settings())


if __name__ == "__main__":
    import sys

    from assistant.ui.cli import serve

    sys.exit(serve())  # the same as `assistant serve`, with its friendly errors
