"""The package's public surface: ``from knowledge_agg import *`` on a default install, and the names behind extras."""

from __future__ import annotations

import subprocess
import sys
import textwrap

#: Runs with the server and notebook extras made unimportable, as on ``pip install knowledge-agg``.
_DEFAULT_INSTALL = textwrap.dedent(
    """
    import sys
    for name in ("fastapi", "uvicorn", "sse_starlette", "pandas", "matplotlib", "ipywidgets"):
        sys.modules[name] = None
    from knowledge_agg import *
    import knowledge_agg
    assert ask is knowledge_agg.ask and ask_many and KnowledgeAggregator and Settings
    try:
        knowledge_agg.launch
    except knowledge_agg.MissingDependency as exc:
        print(exc)
    else:
        raise AssertionError("launch imported without its extra")
    """
)


def test_star_import_works_without_extras_and_launch_says_what_to_install() -> None:
    done = subprocess.run([sys.executable, "-c", _DEFAULT_INSTALL], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["launch() needs an extra: pip install 'knowledge-agg[server]'"]


def test_optional_names_are_listed_and_reachable_with_their_extras() -> None:
    import knowledge_agg
    from knowledge_agg.batch import ask_many
    from knowledge_agg.server import launch

    assert knowledge_agg.launch is launch and knowledge_agg.ask_many is ask_many
    assert "launch" in dir(knowledge_agg) and "launch" not in knowledge_agg.__all__
