"""The pydocs corpus holds the documentation only, each section once: nothing of the environment of the process that
built it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from knowledge_agg.providers.local import LocalProvider
from knowledge_agg.settings import Settings

_PLANTED = "plantedvalue7f3a9c"


async def test_the_index_holds_no_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A default of os.environ (cgi.parse, cgi.FieldStorage) printed the whole environment, API keys
    # included, into the signature line, and made each build's words (and ranking) depend on the shell.
    monkeypatch.setenv("KNOWLEDGE_AGG_TEST_PLANTED", _PLANTED)
    provider = LocalProvider("pydocs", cache_dir=tmp_path)
    try:
        status = provider.build_sync()
        assert _PLANTED.encode() not in status.path.read_bytes()
        if sys.version_info < (3, 13):  # cgi left the standard library in 3.13
            parse = await provider.lookup("py:cgi.parse")
            assert parse is not None
            assert "environ=os.environ" in parse.text.splitlines()[0]
    finally:
        await provider.aclose()


async def test_a_page_reads_the_same_whatever_interpreter_built_it(tmp_path: Path) -> None:
    # platform.architecture's default printed the interpreter's path (a virtualenv's, different on each
    # machine): the page's words changed with it, and its shipped vector (found by the page's text) was lost.
    provider = LocalProvider("pydocs", cache_dir=tmp_path)
    try:
        provider.build_sync()
        page = await provider.lookup("py:platform.architecture")
        assert page is not None
        assert "executable=sys.executable" in page.text.splitlines()[0] and sys.executable not in page.text
        assert sys.prefix.encode() not in provider.path.read_bytes()
    finally:
        await provider.aclose()



async def test_a_topic_printed_inside_another_is_indexed_once_with_its_help_names(settings: Settings) -> None:
    # "Function definitions" is a topic of help() and a section of "Compound statements": as two documents the
    # same text took two of the five sources (pydocs-qa dev q042, q044, q056, q140, q151). The section is kept,
    # and help()'s name for the topic ("def") finds it.
    provider = LocalProvider.from_settings(settings)
    try:
        for query, kept, dropped in [
            ("function definitions def", "Compound statements: Function definitions", "Function definitions"),
            ("basic customization", "Special method names: Basic customization", "Basic customization"),
        ]:
            titles = [hit.title for hit in await provider.search(query, count=20)]
            assert kept in titles and dropped not in titles, titles
        assert "Compound statements: Function definitions" in [h.title for h in await provider.search("def", count=20)]
    finally:
        await provider.aclose()
