"""The web UI and JSON API as a service of `deskmail serve` and `deskmail web`.

uvicorn serves the app of `deskmail.web.app` from a thread of its own, on a socket bound
before the thread starts (so a port in use fails `start()` at once, and port 0 picks a free
port to read back). `stop()` lets requests in flight finish within the grace time, then
closes the connections. uvicorn's access log stays off: requesters' status links carry their
token in the path, and such a log would hand it to whoever reads the logs
(docs/decisions/0108).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from deskmail.app import App
from deskmail.serve import ServiceError
from deskmail.smtp_service import host_port_text, listen_socket
from deskmail.web.config import WebConfig

if TYPE_CHECKING:
    from deskmail.matching import KnowledgeServices

log = logging.getLogger(__name__)

START_SECONDS = 15.0


class WebService:
    """uvicorn with Deskmail's web app on a thread."""

    name = "web"

    def __init__(
        self,
        app: App,
        *,
        listen: str | None = None,
        config: WebConfig | None = None,
        knowledge: KnowledgeServices | None = None,
    ) -> None:
        self.app = app
        self.config = config
        # The process's own knowledge services (`deskmail serve`): publishing from the UI then
        # embeds with the model the worker already loaded instead of loading a second copy.
        self.knowledge = knowledge
        host, port = app.settings.web_host_port
        if listen is not None:
            from deskmail.settings import parse_host_port  # noqa: PLC0415 - rarely used

            host, port = parse_host_port(listen)
        self.host = host
        self.port = port
        self.address = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        """`http://host:port` of the running server."""
        return f"http://{self.address}"

    def start(self) -> str:
        """Bind, start serving on a thread, wait until uvicorn is up; returns where."""
        from deskmail.web.app import create_app  # noqa: PLC0415 - loads FastAPI only when used

        web = create_app(self.app, self.config)
        if self.knowledge is not None:
            from deskmail.web.kb_pages import use_knowledge  # noqa: PLC0415

            use_knowledge(web, self.knowledge)
        sock = listen_socket(self.host, self.port)
        self.address = host_port_text(sock)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            web,
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # the app applies trusted proxies' headers itself
            server_header=False,
            timeout_graceful_shutdown=30,
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(target=self._run, args=(server, sock), name="web", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise ServiceError(
                    f"the web server did not start on {self.address}: {self._error or 'timeout'}"
                )
            time.sleep(0.02)
        return f"web UI on {self.url}"

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported through `failure()`
            log.exception("the web server stopped")
            self._error = exc
        finally:
            sock.close()

    def stop(self, timeout: float) -> None:
        """Finish requests in flight (at most `timeout` seconds), then close everything."""
        self._stopping = True
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.config.timeout_graceful_shutdown = max(int(timeout) - 1, 1)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(2.0)
        if thread.is_alive():
            log.warning("the web server did not stop in time")

    def failure(self) -> BaseException | None:
        """Why the server stopped on its own, if it did."""
        if self._error is not None:
            return self._error
        thread = self._thread
        if thread is not None and not thread.is_alive() and not self._stopping:
            return ServiceError("the web server thread ended")
        return None
