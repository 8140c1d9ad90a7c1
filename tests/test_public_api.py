"""The exported surface (``__all__``) and the private-module rule, checked over src/, tests/ and benchmarks/."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import knowledge_agg

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
#: Top-level modules of the optional extras; the default install has none of them.
EXTRAS = (
    "fastapi", "uvicorn", "sse_starlette", "prometheus_client", "starlette",
    "pandas", "pyarrow", "matplotlib", "ipywidgets", "IPython", "nest_asyncio", "tqdm", "onnxruntime", "tokenizers",
)
PACKAGES = ("knowledge_agg", "knowledge_agg.providers", "knowledge_agg.providers.brave",
            "knowledge_agg.server", "knowledge_agg.standin")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_importable_and_public(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, package
    assert len(set(module.__all__)) == len(module.__all__), "a name is exported twice"
    for name in module.__all__:
        assert not name.startswith("_"), f"{package}.__all__ exports the private name {name}"
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and home.startswith("knowledge_agg"):
            assert _private_part(home) is None, f"{package}.{name} is defined in the private module {home}"


def test_users_get_hits_with_the_provider_interface() -> None:
    assert {"SearchProvider", "Hit", "Hits", "Document"} <= set(knowledge_agg.__all__)
    hits = knowledge_agg.Hits([knowledge_agg.Hit(rank=1, title="t", url="u", snippet="s", provider="p")], {"a": "b"})
    assert hits[0].title == "t" and hits.respelt == {"a": "b"}


def test_import_star_works_on_the_default_install() -> None:
    """With every optional extra unimportable, ``from knowledge_agg import *`` binds exactly ``__all__``."""
    script = f"""
import importlib.abc, json, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Blocked())
namespace = {{}}
exec("from knowledge_agg import *", namespace)
import knowledge_agg
print(json.dumps(sorted(set(namespace) - {{"__builtins__"}})))
print(json.dumps(sorted(knowledge_agg.__all__)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    bound, exported = (json.loads(line) for line in done.stdout.splitlines())
    assert bound == exported


def test_no_module_imports_a_private_module_of_another_package() -> None:
    found = [str(v) for base in ("src", "tests", "benchmarks") for path in sorted((ROOT / base).rglob("*.py"))
             for v in _violations(path, path.read_text(encoding="utf-8"))]
    assert not found, "private modules imported from outside their package:\n" + "\n".join(found)


@pytest.mark.parametrize(("where", "source", "expected"), [
    ("tests/test_x.py", "from knowledge_agg.providers import _fts", ["knowledge_agg.providers._fts"]),
    ("tests/test_x.py", "import knowledge_agg.providers._fts as f", ["knowledge_agg.providers._fts"]),
    ("tests/test_x.py", "from knowledge_agg.providers._fts import build", ["knowledge_agg.providers._fts"]),
    ("src/knowledge_agg/server/app.py", "from ..providers import _fts", ["knowledge_agg.providers._fts"]),
    ("src/knowledge_agg/providers/local.py", "from . import _fts", []),
    ("src/knowledge_agg/providers/brave/client.py", "from .._fts import build", []),
    ("src/knowledge_agg/standin/corpus.py", "from ..text import terms", []),
    ("tests/test_x.py", "from knowledge_agg.fetch import _GuardedBackend", []),  # a private name, not a module
    ("tests/test_x.py", "from _servers import serve", ["_servers"]),  # a private top-level helper
])
def test_the_rule_checker_tells_private_imports_apart(where: str, source: str, expected: list[str]) -> None:
    assert [v.module for v in _violations(ROOT / where, source)] == expected


class _Violation:
    def __init__(self, path: Path, line: int, module: str) -> None:
        self.path, self.line, self.module = path, line, module

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: imports {self.module}"


def _violations(path: Path, source: str) -> Iterator[_Violation]:
    """Each import in ``source`` (the file at ``path``) of a private module from outside its package."""
    module, is_package = _module_of(path)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        for imported in _imported_modules(node, package):
            owner = _private_owner(imported)
            if owner is not None and package != owner and not package.startswith(owner + "."):
                yield _Violation(path, node.lineno, imported)


def _imported_modules(node: ast.AST, package: str) -> list[str]:
    """The modules an import statement loads (for ``from m import n``: ``m``, and ``m.n`` when it is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    submodules = [f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")]
    return [base, *submodules]


def _private_owner(module: str) -> str | None:
    """The package that holds the first private part of ``module`` (``a._b.c`` → ``a``), or None."""
    index = _private_part(module)
    return None if index is None else ".".join(module.split(".")[:index])


def _private_part(module: str) -> int | None:
    """The index of the first ``_x`` part of a dotted module name, or None when there is none."""
    parts = module.split(".")
    return next((i for i, part in enumerate(parts) if part.startswith("_") and not part.startswith("__")), None)


def _module_of(path: Path) -> tuple[str, bool]:
    """The dotted module name of a file under the repository, and whether it is a package's ``__init__``."""
    relative = path.relative_to(SRC if path.is_relative_to(SRC) else ROOT).with_suffix("")
    parts = list(relative.parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return any((base / relative).with_suffix(".py").exists() or (base / relative / "__init__.py").exists()
               for base in (SRC, ROOT))
