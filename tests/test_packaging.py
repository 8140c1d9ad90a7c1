"""The project's metadata as setuptools reads it when building: licence, licence file and extras."""

from __future__ import annotations

import warnings
from pathlib import Path

from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parents[1]


def test_metadata_reads_without_deprecation_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # setuptools warns on every install about a licence table
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT"
    assert dist.metadata.license_files == ["LICENSE"] and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_jupyterlab_is_an_extra() -> None:
    dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    lab = [str(r) for r in dist.extras_require["lab"]]
    assert any(r.startswith("jupyterlab") for r in lab) and any("knowledge-agg[notebook]" in r for r in lab)
