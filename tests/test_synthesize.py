"""Extractive synthesis: verbatim cited sentences, the word budget, and the explicit no-result outcome."""

from __future__ import annotations

import re

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.analyze import analyze
from knowledge_agg.models import Hit, Page, Source
from knowledge_agg.rank import rank_passages
from knowledge_agg.settings import Settings
from knowledge_agg.synthesize import Synthesis, synthesize

_GENERATORS = (
    "Asynchronous generators were added to Python in version 3.6 by PEP 525. "
    "An asynchronous generator is a function defined with async def that contains a yield expression. "
    "Calling it returns an asynchronous iterator, which an async for loop consumes one value at a time. "
    "Each step may await other coroutines before it yields the next value. "
    "The aclose method finalises a generator that was not run to its end."
)
_WEATHER = (
    "The weather in the valley was mild for most of the year. Farmers planted wheat and barley in spring. "
    "Summer storms sometimes flooded the lower fields near the river."
)


def _source(number: int, title: str) -> Source:
    hit = Hit(rank=number, title=title, url=f"https://site{number}.example/page", snippet="", provider="test")
    return Source(id=number, hit=hit, score=1.0, reason="test")


def _run(query: str, texts: list[str], max_words: int = 120) -> tuple[Synthesis, list[Page], list[Source]]:
    sources = [_source(i, f"Title {i}") for i in range(1, len(texts) + 1)]
    pages = [Page(source=s, text=t, method="local") for s, t in zip(sources, texts, strict=True)]
    analysis = analyze(query)
    passages = rank_passages(pages, analysis, k=8, min_words=10, max_words=40)
    return synthesize(passages, sources, analysis, max_words=max_words), pages, sources


def _run_titled(query: str, pages: dict[str, str]) -> Synthesis:
    """The synthesis of local pages given as title → text, cited in that order, read as the pipeline reads them."""
    sources = [
        Source(id=i, hit=Hit(rank=i, title=t, url=f"doc://{t}", snippet="", provider="test", doc_id=t), score=1.0,
               reason="")
        for i, t in enumerate(pages, start=1)
    ]
    analysis = analyze(query)
    passages = rank_passages([Page(s, pages[s.hit.title], "local") for s in sources], analysis, k=8)
    return synthesize(passages, sources, analysis, max_words=120)


def test_every_sentence_is_verbatim_in_the_source_it_cites() -> None:
    synthesis, pages, _ = _run("How do asynchronous generators work?", [_GENERATORS, _WEATHER])
    assert 1 <= len(synthesis.points) <= 7
    texts = {p.source.id: p.text for p in pages}
    for point in synthesis.points:
        assert point.source_ids
        assert not re.search(r"\[\d+\]", point.text)
        for source_id in point.source_ids:
            assert point.text in texts[source_id]
    assert any("async def" in p.text for p in synthesis.points)


def test_markdown_has_citations_and_a_numbered_source_list() -> None:
    synthesis, _, sources = _run("How do asynchronous generators work?", [_GENERATORS, _WEATHER])
    body, _, listing = synthesis.text.partition("\n\nSources:\n")
    for point in synthesis.points:
        assert f"{point.text} [{point.source_ids[0]}]" in body
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = {int(n) for n in re.findall(r"^\[(\d+)\] ", listing, re.MULTILINE)}
    assert cited and cited <= listed
    assert f"[1] Title 1 — {sources[0].hit.url}" in listing


def test_the_word_budget_is_respected() -> None:
    for budget in (15, 30, 60):
        synthesis, _, _ = _run("How do asynchronous generators work?", [_GENERATORS], max_words=budget)
        assert sum(len(p.text.split()) for p in synthesis.points) <= budget


def test_a_sentence_found_in_two_sources_cites_both() -> None:
    synthesis, _, _ = _run("When were asynchronous generators added to Python?", [_GENERATORS, _GENERATORS])
    first = next(p for p in synthesis.points if "3.6" in p.text)
    assert first.source_ids == [1, 2]


def test_when_questions_prefer_the_sentence_with_a_date() -> None:
    text = (
        "Warsaw's stock exchange was re-established when communist control of the country ended. "
        "Farmers planted wheat and barley in spring near the city. "
        "Warsaw's stock exchange was re-established in April 1991 in a former party building."
    )
    synthesis, _, _ = _run("When was Warsaw's stock exchange re-established?", [text], max_words=15)
    assert synthesis.points and "1991" in synthesis.points[0].text


def test_nothing_relevant_is_an_explicit_outcome() -> None:
    synthesis, _, _ = _run("quantum chromodynamics lattice", [_WEATHER])
    assert synthesis.points == [] and not synthesis.found
    assert synthesis.text.startswith("No relevant sources found for")
    empty = synthesize([], [], analyze("anything at all"))
    assert empty.points == [] and "No relevant sources found" in empty.text


def test_headings_and_fragments_are_never_points_and_the_answer_is_one_line() -> None:
    page = (
        "Asynchronous generator functions\n\n"
        "Asynchronous generators\nAn asynchronous generator is defined with async def and\n"
        "contains a yield expression, so it produces values lazily.\n\n"
        "Generators here.\n\n"
        "Calling an asynchronous generator returns an asynchronous iterator for async for loops."
    )
    synthesis, pages, _ = _run("How do asynchronous generators work?", [page])
    assert synthesis.points
    for point in synthesis.points:
        assert point.text in pages[0].text
        assert len(point.text.split()) >= 4
        assert not point.text.startswith("Asynchronous generator")
    body = synthesis.text.partition("\n\nSources:\n")[0]
    assert "\n" not in body
    assert "async def and contains a yield" in body


_RMTREE = (
    "shutil.rmtree(path, ignore_errors=False, onerror=None, *, dir_fd=None)\n\n"
    "Recursively delete a directory tree.\n\n"
    "If ignore_errors is set, errors resulting from failed removals are ignored; otherwise they are handled "
    "by calling a handler specified by onerror or, if that is omitted, they raise an exception. "
    "The folder and everything inside it is gone afterwards."
)
_RENAMES = (
    "os.renames(old, new)\n\nSuper-rename; create directories as necessary and delete any left empty. "
    "Works like rename, except creation of any intermediate directories needed to make the new pathname good "
    "is attempted first. After the rename, directories corresponding to rightmost path segments of the old "
    "name will be pruned away."
)


def test_a_how_to_answer_leads_with_the_top_source_summary_and_never_quotes_a_signature() -> None:
    synthesis, pages, _ = _run("how do I delete a folder and everything inside it?", [_RMTREE, _RENAMES])
    # The summary shares no word with the question, yet it is what the best page says it does.
    assert synthesis.points[0].text == "Recursively delete a directory tree."
    assert synthesis.points[0].source_ids == [1]
    assert not any(p.text.startswith(("shutil.rmtree(", "os.renames(")) for p in synthesis.points)
    assert all(p.text in pages[i - 1].text for p in synthesis.points for i in p.source_ids)


def test_a_question_about_a_detail_does_not_spend_words_on_the_lead() -> None:
    article = (
        "Rotorcraft are aircraft lifted by rotating wings. Early designs appeared in the 1900s. "
        "Engineers sometimes call rotors rotating discs, since a spinning rotor sweeps out a disc of air."
    )
    synthesis, _, _ = _run("What is another term for rotors used by engineers?", [article])
    assert synthesis.points[0].text.startswith("Engineers sometimes call rotors rotating discs")
    assert "Rotorcraft are aircraft lifted by rotating wings." not in [p.text for p in synthesis.points[:1]]


def test_a_comparison_leads_with_the_key_sentence_of_each_side() -> None:
    pages = {
        "statistics.stdev": "statistics.stdev(data, xbar=None)\n\nReturn the square root of the sample variance. "
        "See variance() for arguments and other details.",
        "statistics.pstdev": "statistics.pstdev(data, mu=None)\n\nReturn the square root of the population "
        "variance. See pvariance() for arguments and other details.",
        "statistics": "statistics\n\nThis module provides functions for calculating statistics of data. "
        "Use stdev for a sample and pstdev for a whole population, the docs say about stdev and pstdev.",
    }
    synthesis = _run_titled("statistics.stdev vs statistics.pstdev - which one should I use?", pages)
    assert [p.text for p in synthesis.points[:2]] == [
        "Return the square root of the sample variance.",
        "Return the square root of the population variance.",
    ]
    assert [p.source_ids for p in synthesis.points[:2]] == [[1], [2]]


def test_code_is_never_a_point() -> None:
    text = (
        "json.dumps(obj)\n\nSerialize obj to a JSON formatted str.\n\n"
        ">>> import json >>> json.dumps(['foo', {'bar': ('baz', None)}]) '[\"foo\", {\"bar\": [\"baz\", null]}]'\n\n"
        "future_stmt ::= \"from\" \"__future__\" \"import\" feature\n\n"
        "d = {k: v for (k, v) in pairs if k[0] == v[0]} and f(d[k], g(h[k])) = x\n\n"
        "If skipkeys is true, dict keys that are not of a basic type are skipped instead of raising a TypeError."
    )
    synthesis, _, _ = _run("how do I serialize a dict to json and skip keys", [text])
    texts = [p.text for p in synthesis.points]
    assert texts[0] == "Serialize obj to a JSON formatted str."
    assert any(t.startswith("If skipkeys is true") for t in texts)
    assert not any(">>>" in t or "::=" in t or "k[0]" in t for t in texts)


def test_version_notes_answer_only_questions_about_versions() -> None:
    text = (
        "Raw strings\n\nNew in version 3.3: The 'rb' prefix of raw bytes literals has been added as a synonym of 'br'. "
        "Both string and bytes literals may optionally be prefixed with a letter 'r' or 'R'; such strings are "
        "called raw strings and treat backslashes as literal characters."
    )
    what = [p.text for p in _run("What does the r prefix before a string literal mean?", [text])[0].points]
    assert what and not any(t.startswith("New in version") for t in what)
    when = [p.text for p in _run("In which version was the rb prefix for raw bytes literals added?", [text])[0].points]
    assert any(t.startswith("New in version 3.3") for t in when)


async def test_a_how_to_answer_keeps_the_key_sentence_of_a_source_below_the_first(settings: Settings) -> None:
    # On the real pydocs index smtplib.SMTP.sendmail is the first source and smtplib.SMTP.starttls a later
    # one; starttls's summary line is the answer, though it shares few words with the question.
    async with KnowledgeAggregator(settings) as agg:
        # by words alone (by meaning, starttls may itself be the first source)
        run = await agg.run("How do I upgrade an SMTP connection to TLS before logging in to send mail?", provider="local",
                            flags="semantic=off")
    starttls = next(s.id for s in run.sources if s.title == "smtplib.SMTP.starttls")
    assert starttls > 1
    point = next(p for p in run.synthesis.points if p.text == "Puts the connection to the SMTP server into TLS mode.")
    assert point.source_ids == [starttls]


async def test_a_comparison_says_what_each_side_is_then_the_sentence_after(settings: Settings) -> None:
    # eval's and exec's key sentences differ in one word; the sentences after them say what each runs.
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("What's the difference between eval() and exec()?", provider="local")
    ids = {s.title: s.id for s in run.sources}
    points = run.synthesis.points[:4]
    assert [" ".join(p.text.split()).split(" in the context")[0].split(" or a code")[0] for p in points] == [
        "Evaluate the given source",
        "Execute the given source",
        "The source may be a string representing a Python expression",
        "The source may be a string representing one or more Python statements",
    ]
    assert [p.source_ids for p in points] == [[ids["eval"]], [ids["exec"]], [ids["eval"]], [ids["exec"]]]


def test_the_questions_own_words_and_tracebacks_are_never_points() -> None:
    # A pasted error message is found verbatim in the page that explains it; quoting it back says nothing.
    text = (
        "The from clause is used for exception chaining: the second exception is attached as the cause.\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last): File \"<stdin>\", line 4, in <module> RuntimeError: Something bad happened\n\n"
        "A traceback is printed for the exception that was the direct cause and for the following exception."
    )
    question = "what does 'The above exception was the direct cause of the following exception' mean?"
    texts = [p.text for p in _run(question, [text])[0].points]
    assert texts and not any(t.startswith(("The above exception", "Traceback")) for t in texts)
    assert any(t.startswith("The from clause is used for exception chaining") for t in texts)


async def test_an_error_answer_says_in_a_few_words_what_the_exception_means(settings: Settings) -> None:
    # TypeError's page says what it is in three words; a summary line that short is still a point.
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("TypeError: unhashable type: 'list'", provider="local")
    type_error = next(s.id for s in run.sources if s.title == "TypeError")
    point = next(p for p in run.synthesis.points if p.text == "Inappropriate argument type.")
    assert point.source_ids == [type_error]


def test_only_a_pages_first_sentence_may_be_that_short() -> None:
    text = "filecmp.cmp(f1, f2, shallow=True)\n\nCompare two files.\n\nFiles are compared.\n\nTrue if the files are the same."
    pages = [Page(_source(1, "filecmp.cmp"), text, "local")]
    analysis = analyze("how do I compare two files?")
    passages = rank_passages(pages, analysis, k=8)
    texts = [p.text for p in synthesize(passages, [pages[0].source], analysis).points]
    assert texts[0] == "Compare two files."
    assert "Files are compared." not in texts


async def test_a_parameter_list_item_is_a_point_of_its_own(settings: Settings) -> None:
    # tempfile.NamedTemporaryFile's docstring lists its arguments one to a line, read as one long sentence
    # ("Arguments: 'prefix' … 'errors' -- …"); the item that answers is a point by itself.
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("create a temporary file that is deleted automatically when closed", provider="local")
    named = next(s.id for s in run.sources if s.title == "tempfile.NamedTemporaryFile")
    point = next(p for p in run.synthesis.points if p.text.startswith("'delete' -- "))
    assert point.text == "'delete' -- whether the file is deleted on close (default True)."
    assert named in point.source_ids


def test_a_table_row_is_a_point_and_its_rules_and_header_are_not() -> None:
    text = (
        "io.open(file, mode='r')\n\nOpen file and return a stream.\n\nThe available modes are:\n\n"
        "========= ======================================\n"
        "Character Meaning\n"
        "--------- --------------------------------------\n"
        "'r'       open for reading (default)\n"
        "'w'       open for writing, truncating the file first\n"
        "'x'       create a new file and open it for writing, failing if the file already exists\n"
        "========= ======================================\n\n"
        "The default mode is 'rt' (open for reading text)."
    )
    synthesis, pages, _ = _run("which mode opens a file for exclusive creation, failing if it already exists", [text])
    texts = [p.text for p in synthesis.points]
    assert "'x'       create a new file and open it for writing, failing if the file already exists" in texts
    assert not any("=====" in t or "-----" in t or "Character Meaning" in t for t in texts)
    assert all(t in pages[0].text for t in texts)


async def test_a_how_to_answer_leads_with_what_the_first_source_says(settings: Settings) -> None:
    # The choice of sources puts filecmp.cmp ("Compare two files.") first: its key sentence leads, and its sentence on
    # when files differ follows; a question that names its first source's thing is led by it too.
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("How do I compare two files to see that they have the same content?", provider="local")
        named = await agg.run("logging.basicConfig does nothing, my log level and format are ignored", provider="local")
    assert run.sources[0].title == "filecmp.cmp"
    assert (run.synthesis.points[0].text, run.synthesis.points[0].source_ids) == ("Compare two files.", [1])
    assert any(p.text.startswith("Otherwise, files are considered different") and p.source_ids == [1]
               for p in run.synthesis.points)
    assert named.sources[0].title == "logging.basicConfig"
    assert named.synthesis.points[0].source_ids == [1]


def test_a_code_example_with_few_brackets_is_never_a_point() -> None:
    # The "for" statement's page shows a loop whose comment is prose: under the bracket share, but Python.
    text = (
        "The for-loop makes assignments to the variables in the target list. This overwrites all previous "
        "assignments to those variables including those made in the suite of the for-loop:\n\n"
        "   for i in range(10):\n       print(i)\n       i = 5             # this will not affect the for-loop\n"
        "                         # because i will be overwritten with the next\n"
        "                         # index in the range\n\n"
        "Names in the target list are not deleted when the loop is finished."
    )
    texts = [p.text for p in _run("what happens when I assign to the loop variable inside a for loop", [text])[0].points]
    assert any(t.startswith("The for-loop makes assignments") for t in texts)
    assert not any("print(i)" in t or "range(10)" in t for t in texts)


async def test_the_python_words_a_question_names_score_the_sentences(settings: Settings) -> None:
    # "else" and "for" are stop words, but "the else block" and "a for loop" name Python's: the sentence of the
    # "for" statement's page that says when the else clause runs is the answer; the asyncio pages' "run … loop"
    # sentences share more of the question's other words.
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("When does the else block after a for loop run?", provider="local")
    assert run.sources[0].title == 'Compound statements: The "for" statement'
    point = next(p for p in run.synthesis.points if p.text.startswith("When the iterator is exhausted"))
    assert point.source_ids == [1]



async def test_the_single_letters_a_question_quotes_score_the_sentences(settings: Settings) -> None:
    # The key terms leave letters out ('w', 'a', 'x' would be sides of a comparison); the sentences that say
    # what mode 'x' does are found by the letter the question quotes.
    async with KnowledgeAggregator(settings) as agg:
        # by words alone: with the static table's meaning The "with" statement comes first (quality log, round eight)
        run = await agg.run("What's the difference between opening a file with mode 'w', 'a' and 'x'?", provider="local",
                            flags="static=off")
    assert run.sources[0].title == "io.open"
    texts = [" ".join(p.text.split()) for p in run.synthesis.points]
    assert "'x' create a new file and open it for writing" in texts
    assert texts[0].startswith("The 'x' mode implies 'w'")


def test_an_interpreter_sessions_continuation_lines_are_never_points() -> None:
    # A sentence split cuts a session after its ">>>" line; what follows starts with the "..." prompt.
    text = (
        "A sample match statement:\n\n"
        ">>> flag = False\n>>> match (100, 200):\n...    case (100, 300):  # Mismatch: 200 != 300\n"
        "...        print('Case 1')\n...    case (100, 200) if flag:  # Successful match, but guard fails\n"
        "...        print('Case 2')\n...    case (100, y):  # Matches and binds y to 200\n"
        "...        print(f'Case 3, y: {y}')\n...    case _:  # Pattern not attempted\n"
        "...        print('Case 4, I match anything!')\n...\nCase 3, y: 200\n\n"
        "A capture pattern in a case clause binds the subject value to a name and always succeeds."
    )
    texts = [p.text for p in _run("why does my case clause match anything and bind the subject value", [text])[0].points]
    assert any(t.startswith("A capture pattern in a case clause binds") for t in texts)
    assert not any("..." in t or "print(" in t for t in texts)


def test_the_first_source_leads_though_a_later_key_sentence_holds_more_of_the_question() -> None:
    # The lead follows the choice of sources: a later source whose title and key sentence hold more of the question's
    # words ("class", "context managers") does not take it from the first.
    pages = {
        "contextlib.contextmanager": "contextlib.contextmanager(func)\n\n@contextmanager decorator.\n\n"
        "Typical usage: decorate a generator function that yields once; the code before the yield runs on entry.",
        "contextlib.AbstractContextManager": "contextlib.AbstractContextManager()\n\n"
        "An abstract base class for context managers.\n\nA class that implements __enter__ and __exit__.",
    }
    synthesis = _run_titled("How do I write a context manager as a generator function instead of a class?", pages)
    assert (synthesis.points[0].text, synthesis.points[0].source_ids) == ("@contextmanager decorator.", [1])
    ranked = _run_titled("How do I compare two files?", {
        "difflib.Differ.compare": "difflib.Differ.compare(a, b)\n\nCompare two sequences of lines; generate the delta.",
        "filecmp.cmp": "filecmp.cmp(f1, f2, shallow=True)\n\nCompare two files.",
    })
    assert ranked.points[0].source_ids == [1]


def test_past_the_first_source_the_words_reach_more_sources() -> None:
    # The queue page says something of the question in every sentence; each sentence taken from it costs its next
    # one, so the timer page, which says what runs after a delay, gets a place the queue's sixth sentence would take.
    pages = {
        "sched.scheduler": "sched.scheduler(timefunc, delayfunc)\n\nA general purpose event scheduler. "
        "Its jobs run in the calling thread after their delay.",
        "queue.Queue": "queue.Queue(maxsize=0)\n\nA FIFO queue of jobs for threads. "
        "Jobs put in the queue wait until a thread takes them. "
        "A thread that takes jobs from the queue runs them one at a time. "
        "The queue blocks a thread when no jobs wait. "
        "Threads call task_done when a job from the queue is finished. "
        "A queue of jobs may be joined by the thread that filled it.",
        "threading.Timer": "threading.Timer(interval, function)\n\nCreate a timer that will call a function after a "
        "delay. Each timer has a thread of its own.",
    }
    synthesis = _run_titled("Which thread runs the jobs of a queue after a delay?", pages)
    assert synthesis.points[0].source_ids == [1]
    assert ("Create a timer that will call a function after a delay.", [3]) in [
        (p.text, p.source_ids) for p in synthesis.points
    ]
    assert sum(p.source_ids == [2] for p in synthesis.points) < 5


def test_a_sentence_that_introduces_comes_with_what_it_introduces() -> None:
    text = (
        "In the context of Boolean operations, and also when expressions are used by control flow statements, "
        "the following values are interpreted as false:\n\n"
        "\"False\", \"None\", numeric zero of all types, and empty strings and containers.\n\n"
        "All other values are interpreted as true. A false value in an if statement is tested like this:\n\n"
        "   if not values:\n       print(values)\n\n"
        "The operator \"not\" yields \"True\" if its argument is false."
    )
    texts = [p.text for p in _run("Which values count as false in an if statement?", [text])[0].points]
    colon = next(n for n, t in enumerate(texts) if t.endswith("the following values are interpreted as false:"))
    assert texts[colon + 1] == '"False", "None", numeric zero of all types, and empty strings and containers.'


def test_platform_and_audit_boilerplate_is_a_point_only_when_asked_about() -> None:
    text = (
        "shutil.rmtree(path, ignore_errors=False, *, dir_fd=None)\n\nRecursively delete a directory tree. "
        "If dir_fd is not None, it should be a file descriptor open to a directory. "
        "dir_fd may not be implemented on your platform. "
        "If it is unavailable, using it will raise a NotImplementedError. "
        "Raises an auditing event shutil.rmtree with arguments path and dir_fd. "
        "If ignore_errors is true, errors resulting from failed removals of the directory will be ignored."
    )
    boilerplate = ("dir_fd may not be implemented", "If it is unavailable", "Raises an auditing event")
    texts = [p.text for p in _run("how do I delete a directory tree and ignore errors", [text])[0].points]
    assert texts[0] == "Recursively delete a directory tree."
    assert not any(b in t for t in texts for b in boilerplate)
    asked = [p.text for p in _run("is dir_fd implemented on every platform for deleting a directory", [text])[0].points]
    assert any("dir_fd may not be implemented" in t for t in asked)
