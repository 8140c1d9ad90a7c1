"""The notebooks' kernels inherit this environment: their runs go to a throwaway store, never the user's."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_FOLDER = tempfile.mkdtemp(prefix="knowledge-agg-notebooks-")


def pytest_configure(config: pytest.Config) -> None:
    """Point ``KNOWLEDGE_AGG_STORE`` at a fresh file before nbval starts any kernel."""
    os.environ["KNOWLEDGE_AGG_STORE"] = os.path.join(_FOLDER, "runs.sqlite3")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_FOLDER, ignore_errors=True)
