"""ruff and mypy (strict on ``src/``) are clean, so the README's ``pytest`` enforces them in CI.

Both read their configuration from ``pyproject.toml``; mypy keeps its cache in ``.mypy_cache``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean() -> None:
    done = _run("ruff", "check", "--no-cache", "src", "tests", "benchmarks")
    assert done.returncode == 0, f"ruff check found problems:\n{done.stdout}{done.stderr}"


def test_mypy_strict_is_clean_on_src() -> None:
    done = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))  # files = ["src"], strict, from pyproject.toml
    assert done.returncode == 0, f"mypy found problems:\n{done.stdout}{done.stderr}"
    assert "Success" in done.stdout
