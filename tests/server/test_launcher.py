"""The embedded launcher: a background thread with its own loop, in a script or inside a running loop."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from knowledge_agg.events import parse_event
from knowledge_agg.server import LaunchHandle, PortInUse, create_app, launch
from tests.helpers.corpus_server import corpus_settings, write_corpus
from tests.helpers.servers import serve


async def test_launch_inside_a_running_event_loop(tmp_path: Path) -> None:
    handle = launch(port=0, settings=corpus_settings(tmp_path))
    try:
        assert handle.owned and handle.running and handle.port != 0
        async with httpx.AsyncClient(timeout=30) as client:
            assert (await client.get(f"{handle.url}/health")).json()["service"] == "knowledge-agg"
            async with aconnect_sse(client, "GET", f"{handle.url}/v1/stream", params={"q": "asyncio tasks"}) as source:
                events = [parse_event(m.data) async for m in source.aiter_sse()]
        assert events[-1].type == "done" and not events[-1].partial
    finally:
        handle.stop()
    assert not handle.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{handle.url}/health")


def test_launch_from_a_script_as_context_manager_with_settings_options(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    with launch(0, provider="local", corpus=str(corpus), cache_dir=tmp_path / "c", dev_mode=True) as handle:
        assert isinstance(handle, LaunchHandle)
        assert httpx.get(f"{handle.url}/config").json()["dev_mode"] is True
        assert launch(handle.port) is handle  # the same port again: the running server is reused
    assert not handle.running


def test_port_held_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"Port {port} on 127.0.0.1 is already in use"):
            launch(port, settings=corpus_settings(tmp_path))


def test_port_held_by_our_own_server_is_reused(tmp_path: Path) -> None:
    with serve(create_app(corpus_settings(tmp_path))) as url:
        port = httpx.URL(url).port
        assert port is not None
        handle = launch(port, settings=corpus_settings(tmp_path))
        assert handle.url == url and not handle.owned and handle.running
        handle.stop()  # not ours to stop
        assert httpx.get(f"{url}/health").status_code == 200
