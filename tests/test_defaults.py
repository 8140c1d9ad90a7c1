"""Defaults live in ``Settings`` only: the stages, the Brave client, ``launch()`` and the CLI help read them there."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest

from knowledge_agg.analyze import analyze
from knowledge_agg.cli import main
from knowledge_agg.providers.brave import BraveProvider
from knowledge_agg.rank import rank_passages
from knowledge_agg.select import select_sources
from knowledge_agg.server import ServerSettings, launch
from knowledge_agg.settings import Settings, setting_default
from knowledge_agg.synthesize import synthesize


@pytest.mark.parametrize(
    ("function", "parameter", "setting"),
    [
        (BraveProvider, "base_url", "brave_base_url"),
        (BraveProvider, "rate_limit", "brave_rate_limit"),
        (BraveProvider, "max_retries", "brave_max_retries"),
        (BraveProvider, "timeout", "brave_timeout"),
        (BraveProvider, "search_timeout", "search_timeout"),
        (BraveProvider, "cache_ttl", "brave_cache_ttl"),
        (BraveProvider, "extra_snippets", "brave_extra_snippets"),
        (analyze, "max_chars", "max_query_chars"),
        (select_sources, "max_sources", "max_sources"),
        (select_sources, "max_per_domain", "max_per_domain"),
        (rank_passages, "k", "max_passages"),
        (synthesize, "max_words", "max_words"),
    ],
)
def test_signature_defaults_are_the_settings_defaults(function: Callable[..., Any], parameter: str, setting: str) -> None:
    assert inspect.signature(function).parameters[parameter].default == Settings.model_fields[setting].default


@pytest.mark.parametrize("parameter", ["host", "port"])
def test_launch_defaults_are_the_server_settings_defaults(parameter: str) -> None:
    assert inspect.signature(launch).parameters[parameter].default == ServerSettings.model_fields[parameter].default


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("command", "option", "setting"),
    [
        ("ask", "--max-sources MAX_SOURCES", "max_sources"),
        ("ask", "--max-passages MAX_PASSAGES", "max_passages"),
        ("ask", "--max-words MAX_WORDS", "max_words"),
        ("ask", "--corpus CORPUS", "corpus"),
        ("ask", "--provider {auto,local,brave}", "provider"),
        ("serve", "--corpus CORPUS", "corpus"),
        ("serve", "--host HOST", "host"),
        ("serve", "--port PORT", "port"),
    ],
)
def test_cli_help_shows_the_settings_default(
    command: str, option: str, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(command, capsys)
    assert option in text
    described = re.split(r" --", text.rsplit(option, 1)[1], maxsplit=1)[0]  # the options list, after the usage line
    model = Settings if setting in Settings.model_fields else ServerSettings
    assert described.endswith(f"(default {setting_default(setting, model)})")


def test_cli_help_shows_no_default_for_options_that_are_not_settings(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help("ask", capsys)
    assert "(default" not in text.rsplit("--flags FLAGS", 1)[1].split(" --", 1)[0]  # flags layer over the registry
