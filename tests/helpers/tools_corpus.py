"""Five one-line notes on standard-library tools: a corpus small enough to reason about, whose paraphrase
questions share no word with the note that answers them (search by meaning, tests/test_static.py and
tests/test_semantic.py)."""

from __future__ import annotations

TOOLS = [
    {"id": "rmtree", "title": "shutil.rmtree", "text": "Recursively delete a directory tree."},
    {"id": "rename", "title": "os.rename", "text": "Rename the file or directory src to dst."},
    {"id": "sleep", "title": "time.sleep", "text": "Delay execution for a given number of seconds."},
    {"id": "loads", "title": "json.loads", "text": "Deserialize a str instance containing a JSON document."},
    {"id": "shuffle", "title": "random.shuffle", "text": "Shuffle list x in place, and return None."},
]
