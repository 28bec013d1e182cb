"""Serving the UI: bind address, optional login, the loopback warning, no public share link.

`launch(settings)` is what `python app.py`, `assistant serve` and `make run` call. Once the server
is up it starts loading the assistant in the background, so the page is served at once and the
first question does not pay for loading the model.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError

log = logging.getLogger("assistant.ui")


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """ASSISTANT_AUTH: 'user:pass,user2:pass2', or a path to a file with one such pair per line
    (blank lines and # comments ignored). None/empty means no login."""
    if not value or not value.strip():
        return None
    text = value.strip()
    path = Path(text).expanduser()
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"ASSISTANT_AUTH names {path}, which cannot be read ({exc.strerror}).",
                              "Make the file readable, or give 'user:pass' directly.") from exc
    elif ":" not in text:
        raise ConfigError("ASSISTANT_AUTH is neither user:password pairs nor the path of an existing file.",
                          "Set it to 'user:pass,user2:pass2' or to a file with one user:pass per line.")
    pairs = []
    for raw in text.replace(",", "\n").splitlines():
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError("ASSISTANT_AUTH has an entry that is not user:password.",
                              "Write it as 'user:pass,user2:pass2' (or one user:pass per line in a file).")
        pairs.append((user.strip(), password))
    if not pairs:
        raise ConfigError("ASSISTANT_AUTH is set but names no user.", "Add user:password pairs, or unset it.")
    return pairs


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, auth) -> str | None:
    """The warning logged when the UI is reachable from other machines without a login."""
    if auth or is_loopback(host):
        return None
    msg = (f"Serving on {host}, reachable from other machines, WITHOUT a login. "
           "Set ASSISTANT_AUTH='user:password' (or a file of such lines) to require one.")
    log.warning(msg)
    return msg


def launch(settings: Settings, *, demo=None, block: bool = True, quiet: bool = False):
    """Build (unless given) and serve the UI on settings.host:settings.port; returns the Blocks."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from .app import create_app

    auth = parse_auth(settings.auth)
    check_exposure(settings.host, auth)
    demo = demo or create_app(settings)
    # quiet: Gradio's own banner suggests share=True; this app never creates a public link.
    try:
        demo.launch(server_name=settings.host, server_port=settings.port, share=False, auth=auth,
                    auth_message="Stack Assistant: sign in" if auth else None, prevent_thread_lock=True,
                    show_error=False, quiet=True, ssr_mode=False, footer_links=["api"], **demo.launch_style)
    except OSError as exc:
        raise ConfigError(f"Cannot serve on {settings.host}:{settings.port} ({exc}).",
                          "Set ASSISTANT_PORT (or --port) to a free port, or stop the other server.") from exc
    demo.runtime.start()  # after the server is up, so loading the model does not delay the first page
    if not quiet:
        log.info("Stack Assistant on %s%s (Ctrl+C to stop)", demo.local_url, " with login" if auth else "")
    if block:
        demo.block_thread()
    return demo
