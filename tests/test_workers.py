"""The extraction pool: worker processes give the text the run's own process would, and errors come back typed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from knowledge_agg import extract as extract_module
from knowledge_agg import workers
from knowledge_agg.extract import ChallengePageError, extract_text

ARTICLE = "<html><head><title>T</title></head><body><nav>Home | News</nav><article>" + "".join(
    f"<p>Paragraph {i} explains how asyncio tasks are cancelled and why the event loop keeps running.</p>"
    for i in range(12)
) + "</article><footer>Copyright</footer></body></html>"
CHALLENGE = "<html><body><p>Just a moment...</p><p>Checking your browser before accessing.</p></body></html>"


async def pool_up() -> None:
    """Start the pool (an extraction while two runs are in flight) and wait until its workers run."""
    with workers.running(), workers.running():
        await workers.extract(ARTICLE.encode(), None, None, 2)
    for _ in range(600):  # a guard against hanging, not a timing assert
        if workers._pool is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the pool never started")


async def test_a_single_run_never_starts_the_pool() -> None:
    if workers._pool is None:
        with workers.running():
            pages = [ARTICLE.replace("Paragraph", f"Part{i}").encode() for i in range(12)]
            await asyncio.gather(*(workers.extract(page, None, None, 2) for page in pages))
        assert workers._pool is None and not workers._starting


async def test_two_runs_in_flight_start_the_pool_and_it_stays_warm_for_one() -> None:
    await asyncio.to_thread(workers.shutdown)
    with workers.running():
        await workers.extract(ARTICLE.encode(), None, None, 2)
        assert workers._pool is None and not workers._starting
        with workers.running():
            await workers.extract(ARTICLE.encode(), None, None, 2)
            assert workers._pool is not None or workers._starting
    await pool_up()
    pool = workers._pool
    with workers.running():  # one run again: the warm pool carries its pages
        assert "Paragraph 3" in await workers.extract(ARTICLE.encode(), None, None, 2)
    assert workers._pool is pool


async def test_without_a_pool_pages_are_extracted_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    active, peak, lock = 0, 0, threading.Lock()

    def slow_extract(body: bytes, charset: str | None, url: str | None) -> str:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return body.decode()

    monkeypatch.setattr(extract_module, "extract_page", slow_extract)
    with workers.running():
        texts = await asyncio.gather(*(workers.extract(f"page {i}".encode(), None, None, 0) for i in range(8)))
    assert texts == [f"page {i}" for i in range(8)] and peak == 1


def test_running_counts_runs_and_forgets_a_run_that_raised() -> None:
    before = workers._runs
    with pytest.raises(ValueError), workers.running():
        assert workers._runs == before + 1
        raise ValueError("a run that failed")
    assert workers._runs == before


async def test_a_worker_extracts_what_the_run_would() -> None:
    await pool_up()
    assert await workers.extract(ARTICLE.encode(), "utf-8", "http://example.org/a", 2) == extract_text(
        ARTICLE, "http://example.org/a"
    )
    cp1251 = ARTICLE.replace("Paragraph", "Абзац").encode("cp1251")
    assert "Абзац 3" in await workers.extract(cp1251, "windows-1251", None, 2)  # decoded in the worker


async def test_a_challenge_page_error_crosses_the_process_boundary() -> None:
    await pool_up()
    with pytest.raises(ChallengePageError, match="bot check"):
        await workers.extract(CHALLENGE.encode(), None, None, 2)


async def test_many_pages_at_once_all_come_back() -> None:
    pages = [ARTICLE.replace("Paragraph", f"Part{i}") for i in range(12)]
    texts = await asyncio.gather(*(workers.extract(page.encode(), None, None, 2) for page in pages))
    assert [t.count(f"Part{i}") for i, t in enumerate(texts)] == [12] * 12


async def test_a_killed_worker_costs_no_page() -> None:
    await pool_up()
    pool = workers._pool
    assert pool is not None
    for pid in list(pool._processes):  # the pool breaks as a worker killed by the OS would break it
        os.kill(pid, signal.SIGKILL)
    assert "Paragraph 3" in await workers.extract(ARTICLE.encode(), None, None, 2)  # read in a thread
    await pool_up()  # and a new pool serves the next pages
    assert workers._pool is not pool
    assert "Paragraph 3" in await workers.extract(ARTICLE.encode(), None, None, 2)


def test_pool_size_follows_the_setting_or_the_cores() -> None:
    assert workers.pool_size(0) == 0 and workers.pool_size(3) == 3
    cores = os.cpu_count() or 1
    assert workers.pool_size(None) == (cores if cores > 1 else 0)


async def test_shutdown_stops_the_workers_and_a_later_page_still_extracts() -> None:
    await pool_up()
    pool = workers._pool
    assert pool is not None
    pids = set(pool._processes)
    await asyncio.to_thread(workers.shutdown)
    assert workers._pool is None
    for pid in pids:  # each worker has exited (and been reaped)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with workers.running():  # one run: in a thread
        text = await workers.extract(ARTICLE.encode(), "utf-8", None, 2)
    assert workers._pool is None
    assert text == extract_text(ARTICLE, None)


def test_workers_do_not_re_run_an_unguarded_main_script(tmp_path: Path) -> None:
    ran, script = tmp_path / "ran.txt", tmp_path / "batch.py"
    script.write_text(textwrap.dedent(f"""\
        import asyncio, os
        from knowledge_agg import workers

        with open({str(ran)!r}, "a") as log:  # top-level work, no __main__ guard
            log.write(f"{{os.getpid()}}\\n")

        async def main():
            with workers.running(), workers.running():
                await workers.extract(b"<html><body><p>warm</p></body></html>", None, None, 2)
            for _ in range(600):
                if workers._pool is not None:
                    break
                await asyncio.sleep(0.1)
            loop = asyncio.get_running_loop()
            pids = await asyncio.gather(*(loop.run_in_executor(workers._pool, os.getpid) for _ in range(6)))
            print(" ".join(map(str, sorted(set(pids)))))

        asyncio.run(main())
        workers.shutdown()
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    script_pid = ran.read_text().split()
    worker_pids = done.stdout.split()
    assert len(script_pid) == 1, "the script's top level ran once, in its own process only"
    assert worker_pids and script_pid[0] not in worker_pids  # the tasks ran in worker processes
