"""Run the review app: bind 127.0.0.1 (a random free port unless one is given), print the
URL with this run's token, open the browser, serve until interrupted."""

from __future__ import annotations

import socket
import webbrowser
from collections.abc import Callable

from ..errors import ConfigError
from .app import build_app
from .session import ReviewSession

__all__ = ["HOST", "bind", "serve"]

HOST = "127.0.0.1"


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one the system picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {HOST}:{port}: {error.strerror or error}") from None
    sock.listen(128)
    return sock


def serve(
    session: ReviewSession,
    *,
    port: int = 0,
    open_browser: bool = True,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve ``session`` on 127.0.0.1 until interrupted (Ctrl-C)."""
    import uvicorn

    sock = bind(port)
    actual = sock.getsockname()[1]
    app, review = build_app(session, port=actual)
    announce(review.url)
    if open_browser:
        webbrowser.open(review.url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
