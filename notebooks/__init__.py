"""Marks notebooks/ as a package, so its conftest is ``notebooks.conftest`` and not a second ``conftest`` beside the tests'."""
