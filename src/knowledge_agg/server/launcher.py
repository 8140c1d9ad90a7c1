"""Start the server: in a background thread from Python or Jupyter (``launch``), or in the foreground (``run_server``).

``launch`` gives uvicorn a thread and an event loop of its own, so it works the same in a plain
script and inside Jupyter's running loop, and returns only once ``/health`` answers.
"""

from __future__ import annotations

import atexit
import errno
import socket
import threading
import time
import warnings
from typing import Any

import httpx
import uvicorn

from ..errors import KnowledgeAggError
from ..settings import Settings, setting_default
from ..standin import StandinSettings
from ..urls import http_base
from ._state import SERVICE
from .app import create_app
from .settings import ServerSettings, split_options

__all__ = ["LaunchHandle", "PortInUse", "launch", "run_server"]

_START_TIMEOUT = 30.0
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_ANY = frozenset({"0.0.0.0", "::", ""})


class PortInUse(KnowledgeAggError, OSError):
    """The port is held by a program that is not a knowledge-agg server."""

    kind = "port_in_use"
    recoverable = False


class LaunchHandle:
    """A running server: ``url``, ``stop()``; a context manager. ``owned`` is False when an existing one was reused."""

    def __init__(self, url: str, *, server: uvicorn.Server | None = None, thread: threading.Thread | None = None,
                 sock: socket.socket | None = None) -> None:
        self.url = url
        self._server = server
        self._thread = thread
        self._sock = sock

    @property
    def owned(self) -> bool:
        """Whether this handle started the server (and so stops it)."""
        return self._server is not None

    @property
    def running(self) -> bool:
        """Whether the server still answers requests."""
        if self._thread is not None:
            return self._thread.is_alive()
        return _identify(self.url)

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return httpx.URL(self.url).port or 80

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down and wait for its thread (a reused server is left running)."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        _HANDLES.pop(self.url, None)
        atexit.unregister(self.stop)

    def __enter__(self) -> LaunchHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        how = "running" if self._thread is not None and self._thread.is_alive() else "stopped"
        return f"<LaunchHandle {self.url} {how if self.owned else 'reused'}>"


_HANDLES: dict[str, LaunchHandle] = {}
_LOCK = threading.Lock()


def launch(
    port: int = setting_default("port", ServerSettings),
    *,
    host: str = setting_default("host", ServerSettings),
    settings: Settings | None = None,
    **options: Any,
) -> LaunchHandle:
    """Run the server in a background thread and return once ``/health`` answers.

    ``options`` are run settings (``corpus=...``, ``flags="error_injection=on"``, …) on top of
    ``settings`` or the environment, server settings (``dev_mode=True``, ``max_concurrent_runs=...``)
    and stand-in settings prefixed ``standin_`` (``standin_keys=[...]``). ``port=0`` picks a free port. A port already held by
    a knowledge-agg server is reused; one held by anything else raises :class:`PortInUse`.
    """
    with _LOCK:
        url = http_base(host, port)
        if port and url in _HANDLES and _HANDLES[url].running:
            return _HANDLES[url]
        try:
            sock = _bind(host, port)
        except PortInUse:
            if _identify(url):
                return LaunchHandle(url)
            raise
        url = http_base(host, sock.getsockname()[1])
        run_settings, server_settings, standin_settings = split_options(options, settings)
        app = create_app(run_settings, server=server_settings, standin=standin_settings)
        config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on", timeout_graceful_shutdown=3)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"knowledge-agg {url}", daemon=True
        )
        thread.start()
        handle = LaunchHandle(url, server=server, thread=thread, sock=sock)
        try:
            _wait_until_healthy(handle, thread)
        except BaseException:
            handle.stop()
            raise
        _HANDLES[url] = handle
        atexit.register(handle.stop)
        return handle


def run_server(
    settings: Settings | None = None, server: ServerSettings | None = None, standin: StandinSettings | None = None
) -> None:
    """Serve in the foreground until interrupted (``knowledge-agg serve``); binds 127.0.0.1 unless told otherwise."""
    server = server if server is not None else ServerSettings()
    check_host(server.host, dev_mode=server.dev_mode)
    sock = _bind(server.host, server.port)
    app = create_app(settings, server=server, standin=standin)
    config = uvicorn.Config(app, log_level="info", lifespan="on", timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def check_host(host: str, *, dev_mode: bool) -> None:
    """Warn when ``host`` exposes the server beyond this machine (worse in development mode)."""
    if host in _LOOPBACK:
        return
    exposed = "every network interface" if host in _ANY else f"the address {host}"
    message = (
        f"knowledge-agg is listening on {exposed}: anyone who can reach this machine can run queries, "
        "use the Brave stand-in and read the corpus. Use --host 127.0.0.1 unless you mean it."
    )
    if dev_mode:
        message += " Development mode is on, so they can also change flags and inject errors."
    warnings.warn(message, UserWarning, stacklevel=3)


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``; :class:`PortInUse` names the port when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"Port {port} on {host} is already in use by another program; stop it or pick another port "
                "(port=0 / --port 0 picks a free one)."
            ) from exc
        raise
    return sock


def _identify(url: str) -> bool:
    """Whether a knowledge-agg server answers ``/health`` at ``url`` (a loopback address)."""
    try:
        response = httpx.get(f"{url}/health", timeout=2.0, trust_env=False)
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    return response.status_code == 200 and isinstance(data, dict) and data.get("service") == SERVICE


def _wait_until_healthy(handle: LaunchHandle, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise KnowledgeAggError(f"the server at {handle.url} stopped while starting; see its log above")
        if _identify(handle.url):
            return
        time.sleep(0.05)
    raise KnowledgeAggError(f"the server at {handle.url} did not answer /health within {_START_TIMEOUT:g} s")

