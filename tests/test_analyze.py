"""The analyze stage: kinds, key terms, search strings, and what it refuses (only empty or oversized)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_agg.analyze import (
    MAX_SEARCH_CHARS,
    MAX_SEARCH_WORDS,
    altered_terms,
    analyze,
    clean,
    code_names,
    compared,
    error_name,
    python_words,
    read_as,
    respell,
)
from knowledge_agg.errors import QueryError
from knowledge_agg.text import nearest_spelling

TRACEBACK = """Traceback (most recent call last):
  File "/home/me/app.py", line 12, in <module>
    main()
  File "/home/me/app.py", line 8, in main
    n = int(value)
ValueError: invalid literal for int() with base 10: 'x'
"""


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("How do asynchronous generators work?", "question"),
        ("can you tell me how asyncio.gather works", "question"),
        ("difference between list and tuple", "difference"),
        ("list vs tuple in python", "difference"),
        ("python asyncio tutorial", "keywords"),
        ("sqlite fts5 bm25", "keywords"),
        (TRACEBACK, "error"),
        ("ValueError: invalid literal for int() with base 10: 'x'", "error"),
        ("TypeError: Cannot read properties of undefined (reading 'map')", "error"),
        ("error[E0308]: mismatched types", "error"),
        ("https://docs.python.org/3/library/asyncio.html", "url"),
        ("www.example.com/page", "url"),
        ("def add(a, b):\n    return a + b\n", "code"),
        ("for i in range(10): print(i)", "code"),
        ("x = [i for i in range(3)]", "code"),
    ],
)
def test_kind(query: str, kind: str) -> None:
    assert analyze(query).kind == kind


def test_question_terms_drop_stop_words_and_keep_order() -> None:
    result = analyze("How do asynchronous generators work?")
    assert result.terms == ("asynchronous", "generators", "work")
    assert result.search_query == "How do asynchronous generators work?"
    assert result.query == "How do asynchronous generators work?"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("can you tell me how asyncio.gather works please", "how asyncio.gather works"),
        ("Please, I want to know what a closure is", "What a closure is"),
        ("Hi! Could you explain the GIL?", "The GIL?"),
        ("I would like to know about decorators, thanks", "About decorators"),
    ],
)
def test_filler_is_dropped_from_the_search_string(query: str, expected: str) -> None:
    result = analyze(query)
    assert result.search_query == expected
    assert not {"please", "tell", "know", "thanks"} & set(result.terms)


def test_traceback_reduced_to_its_distinctive_line() -> None:
    result = analyze(TRACEBACK)
    assert result.search_query == "ValueError: invalid literal for int() with base 10: 'x'"
    assert result.terms[:3] == ("valueerror", "invalid", "literal")
    assert "home" not in result.terms  # terms come from the distinctive line, not the file paths


def test_memory_addresses_are_not_distinctive() -> None:
    result = analyze("RuntimeError: <Task pending coro=<main()> at 0x7f3a2b1c9d40> got Future attached")
    assert "0x7f3a2b1c9d40" not in result.search_query
    assert result.kind == "error"


def test_terms_are_deduplicated_and_lower_cased() -> None:
    assert analyze("Asyncio ASYNCIO asyncio Queue queue").terms == ("asyncio", "queue")


def test_url_terms_skip_url_boilerplate() -> None:
    result = analyze("https://www.example.com/guides/asyncio-queues.html")
    assert result.search_query == "https://www.example.com/guides/asyncio-queues.html"
    assert result.terms == ("example", "guides", "asyncio", "queues")


def test_search_query_respects_brave_limits() -> None:
    sixty_words = " ".join(f"word{i}" for i in range(60))
    assert len(analyze(sixty_words).search_query.split()) == MAX_SEARCH_WORDS
    long_words = " ".join(["supercalifragilistic"] * 40)
    fitted = analyze(long_words).search_query
    assert len(fitted) <= MAX_SEARCH_CHARS and fitted.endswith("supercalifragilistic")
    assert len(analyze("x" * 1000).search_query) == MAX_SEARCH_CHARS


def test_control_characters_are_stripped() -> None:
    result = analyze("asyncio\x00queue\x1b[31m \u202etimeout\x7f")
    assert all(ord(c) >= 32 and c != "\x7f" and c != "\u202e" for c in result.search_query)
    assert result.terms[:3] == ("asyncio", "queue", "31m")


@pytest.mark.parametrize("query", ["", "   ", "\n\t ", "\x00\x01", "\u200b"])
def test_empty_query_is_refused(query: str) -> None:
    with pytest.raises(QueryError, match="empty"):
        analyze(query)


def test_oversized_query_is_refused_with_the_limit() -> None:
    with pytest.raises(QueryError, match=r"10,000 characters.*limit is 4,000"):
        analyze("a" * 10_000)
    assert analyze("a " * 2_000, max_chars=4_000).kind == "keywords"


@pytest.mark.parametrize(
    "query",
    [
        '"unterminated',
        "asyncio* NEAR(queue timeout) AND NOT OR -x ^y",
        "(((",
        "SELECT * FROM docs WHERE docs MATCH 'x'; DROP TABLE docs; --",
        "猫はなぜ箱が好きなのか",
        "Как работает asyncio? 🐍🚀",
        "👍",
        "🧑\u200d💻 asyncio",
    ],
)
def test_odd_shapes_are_normal_queries(query: str) -> None:
    result = analyze(query)
    assert result.kind in {"question", "keywords", "code", "error", "url", "difference"}
    assert result.search_query


def test_emoji_only_query_has_no_terms_but_is_searched() -> None:
    result = analyze("👍")
    assert result.terms == () and result.search_query == "👍"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_any_text_gives_an_analysis_or_a_query_error(query: str) -> None:
    try:
        result = analyze(query, max_chars=500)
    except QueryError:
        assert len(query) > 500 or not clean(query).strip()
        return
    words = clean(query).lower()
    assert all(t in words for t in result.terms)
    assert len(result.terms) == len(set(result.terms))
    assert all(t == t.lower() for t in result.terms)
    assert 0 < len(result.search_query) <= MAX_SEARCH_CHARS
    assert len(result.search_query.split()) <= MAX_SEARCH_WORDS
    assert "\x00" not in result.search_query


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=300))
def test_terms_occur_in_the_query(query: str) -> None:
    try:
        result = analyze(query)
    except QueryError:
        assert not query.strip() or not "".join(c for c in query if c.isprintable()).strip()
        return
    for term in result.terms:
        assert term in query.lower()


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("pyhton check if file exsits", ("pyhton", "file", "exsits")),
        ("how can I tell whether a path is a directory", ("path", "directory")),
        ("find out if a port is open", ("port", "open")),
        ("check the file's checksum", ("check", "file", "checksum")),
        ("unittest check", ("unittest", "check")),
    ],
)
def test_the_verb_of_asking_whether_is_no_key_term(query: str, terms: tuple[str, ...]) -> None:
    assert analyze(query).terms == terms


def test_quoted_stop_words_are_kept_as_terms() -> None:
    assert analyze('What does the "with" statement do?').terms == ("with", "statement")
    assert analyze("what does the with statement do").terms == ("statement",)


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("ghandi", ["ghana", "gandhi"], "gandhi"),  # equal edits: the one sharing more letters
        ("Cypiddids", ["cyprus", "cydippids"], "cydippids"),  # 3 edits allowed from 8 letters
        ("parliment", ["parliament", "parliaments"], "parliament"),
        ("naturalized", ["naturally"], None),  # 4 edits is too many
        ("gandhi", ["candhi"], None),  # the first letter is kept
        ("three", ["there"], None),  # short words are common words: never respelt
        ("1705s", ["1706s"], None),
        ("ghandi", [], None),
    ],
)
def test_nearest_spelling(word: str, candidates: list[str], expected: str | None) -> None:
    assert nearest_spelling(word, candidates) == expected


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("ghandi", ["ghana", "gandhi"], "gandhi"),  # the same letters, one out of place
        ("exsits", ["exits", "exists"], "exists"),  # one edit each: two letters swapped beat one dropped
        ("parliment", ["parliament", "parent"], "parliament"),
        ("asyncronous", ["asynchronous", "asyncio"], "asynchronous"),
        ("forecast", ["format", "for"], None),  # real words three edits apart are not typos
        ("minimum", ["maximum", "minim"], None),  # two edits in seven letters: another word
        ("weather", ["whether"], None),
        ("cyanobacteria", ["cyanobacterium"], "cyanobacterium"),  # two edits are a slip in 13 letters
    ],
)
def test_nearest_spelling_of_a_typo(word: str, candidates: list[str], expected: str | None) -> None:
    assert nearest_spelling(word, candidates, typo=True) == expected


def test_respell_reads_terms_no_text_has_as_the_texts_spelling() -> None:
    analysis = analyze("What was Ghandi's work called in Ghana?")
    read, changes = respell(analysis, ["Gandhi called his work Satyagraha.", "Ghana is in Africa."])
    assert changes == {"ghandi": "gandhi"}
    assert read.terms == ("gandhi", "work", "called", "ghana") and read.query == analysis.query
    same, none = respell(analysis, ["Ghandi worked in Ghana."])
    assert none == {} and same is analysis


def test_read_as_and_altered_terms() -> None:
    analysis = analyze("pyhton asyncio tasks")
    assert read_as(analysis, {"pyhton": "python"}).terms == ("python", "asyncio", "tasks")
    assert read_as(analysis, {}) is analysis
    assert altered_terms("pyhton asyncio", "python asyncio") == {"pyhton": "python"}  # word for word
    assert altered_terms("pyhton asyncio tutorial", "python asyncio") == {"pyhton": "python"}  # by spelling
    assert altered_terms("asyncio", "asyncio") == {}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("time.time() vs time.perf_counter() - which?", ("time.time", "time.perf_counter")),
        ("What does @dataclass(frozen=True) do?", ("dataclass",)),
        ("RuntimeError: asyncio.run() cannot be called from a running event loop", ("asyncio.run",)),
        ("What's the difference between eval() and exec()?", ("eval", "exec")),
        ("how do I read a file line by line", ()),
        ("Python 3.11.2 changed it", ()),
    ],
)
def test_code_names_are_the_dotted_and_called_names_typed(text: str, names: tuple[str, ...]) -> None:
    assert code_names(text) == names


@pytest.mark.parametrize(
    ("query", "sides"),
    [
        ("What's the difference between eval() and exec()?", (("eval",), ("exec",))),
        ("list vs tuple in python - what is the actual difference?", (("list",), ("tuple",))),
        ("isdigit vs isdecimal vs isnumeric - which one?", (("isdigit",), ("isdecimal",), ("isnumeric",))),
        ("single underscore vs double underscore at the start of a name", (("single", "underscore"), ("double", "underscore"))),
        ("difference between a list, a tuple and a set", (("list",), ("tuple",), ("set",))),
        ("What is the difference between a process and a thread in Python?", (("process",), ("thread",))),
        ("How do asynchronous generators work?", ()),
        ("vs code python setup", ()),  # one side with key terms is no comparison
    ],
)
def test_a_comparison_names_its_sides(query: str, sides: tuple[tuple[str, ...], ...]) -> None:
    assert compared(query) == sides
    analysis = analyze(query)
    assert analysis.sides == sides and (analysis.kind == "difference") == bool(sides)
    if sides:  # the words that frame the comparison are not searched for in the pages
        assert not {"vs", "difference"} & set(analysis.terms)


def test_an_error_names_its_exception() -> None:
    assert error_name(analyze("subprocess.CalledProcessError: Command '['make']' returned non-zero exit status 2")) == (
        "subprocess.CalledProcessError"
    )
    assert error_name(analyze("TypeError: unhashable type: 'list'")) == "TypeError"
    assert error_name(analyze("what is a TypeError")) is None


@pytest.mark.parametrize(
    "line",
    [
        "subprocess.TimeoutExpired: Command '['sleep', '10']' timed out after 5 seconds",
        "StopIteration: generator raised StopIteration",
        "SystemExit: 2",
        "KeyboardInterrupt",
        "UserWarning: the default will change",
    ],
)
def test_every_kind_of_exception_name_makes_an_error_line(line: str) -> None:
    # One list of name endings for the error line and the exception it names (select.py's exception pages too).
    analysis = analyze(line)
    assert analysis.kind == "error"
    assert error_name(analysis) == line.split(":", 1)[0]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("When does the else block after a for loop run?", ("else", "for")),
        ("How do I use global variables?", ("global",)),
        ("how do I check if a file exists", ()),  # an English stop word alone is not a keyword
        ("Is 1 < x < 10 valid?", ("operators", "comparison")),
        ("What does ... mean", ("ellipsis",)),
        ("no attribute '__balance'", ("privatenames", "specialmethods")),
        ("x_1 and y", ()),
    ],
)
def test_python_words_are_keywords_and_the_topics_of_symbols(query: str, words: tuple[str, ...]) -> None:
    assert python_words(query) == words
