"""The citation check on its own: how answers split into cited sentences, and what makes one unsupported."""

from __future__ import annotations

import pytest

from knowledge_agg.support import Claim, check_answer, check_claim, split_claims

PASSAGES = {
    1: "The Amazon rainforest covers 5,500,000 square kilometres, of which 60% lies in Brazil.",
    2: "Spanish explorer Francisco de Orellana travelled the length of the river in 1542.",
    3: "Deforestation has grown since the 1970s, driven by cattle ranching and soy farming.",
}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("It covers a large area [1]. Orellana came in 1542 [2].",
         [("It covers a large area.", (1,)), ("Orellana came in 1542.", (2,))]),
        ("It covers a large area. [1] Orellana came in 1542. [2][3]",
         [("It covers a large area.", (1,)), ("Orellana came in 1542.", (2, 3))]),
        ("Cattle and soy drive it [1, 3].", [("Cattle and soy drive it.", (1, 3))]),
        ("No marks here. Nor here [2].", [("No marks here.", ()), ("Nor here.", (2,))]),
        ("Tasks can be cancelled [1]. asyncio.Task.cancel requests it [2]. e.g. this stays [3].",
         [("Tasks can be cancelled.", (1,)), ("asyncio.Task.cancel requests it.", (2,)), ("e.g. this stays.", (3,))]),
        ("It is cancelled. [1] asyncio.timeout bounds it. [2]",
         [("It is cancelled.", (1,)), ("asyncio.timeout bounds it.", (2,))]),
    ],
    ids=["mark-before-stop", "mark-after-stop", "comma-list", "uncited-first", "lower-case-after-mark",
         "lower-case-after-stop-and-mark"],
)
def test_split_claims_reads_every_way_of_citing(answer: str, expected: list[tuple[str, tuple[int, ...]]]) -> None:
    assert [(c.text, c.source_ids) for c in split_claims(answer)] == expected


def test_a_faithful_paraphrase_is_supported() -> None:
    point = check_claim(Claim("Francisco de Orellana travelled the river in 1542.", (2,)), PASSAGES)
    assert point.supported and point.support == 1.0 and point.reason == ""


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (Claim("Francisco de Orellana travelled the river in 1542.", ()), "cites no source"),
        (Claim("Francisco de Orellana travelled the river in 1542.", (7,)), "cites [7], not a listed source"),
        (Claim("Francisco de Orellana travelled the river in 1548.", (2,)), "1548 is not in [2]"),
        (Claim("Francisco Pizarro travelled the river in 1542.", (2,)), "Pizarro is not in [2]"),
        (Claim("Francisco de Orellana travelled the river in 1542.", (1,)), "1542 is not in [1]"),
        (Claim("Mining and hydroelectric dams cause most forest loss today.", (3,)), "of its words are in [3]"),
        (Claim("The rainforest covers 6,500,000 square kilometres.", (1,)), "6500000 is not in [1]"),
    ],
    ids=["uncited", "unlisted", "changed-year", "changed-name", "wrong-source", "other-content", "changed-number"],
)
def test_unsupported_claims_say_why(claim: Claim, reason: str) -> None:
    point = check_claim(claim, PASSAGES)
    assert not point.supported
    assert reason in point.reason
    assert point.support < 1.0


def test_a_code_with_digits_is_not_read_as_a_name() -> None:
    passages = {1: "Eurobird 1 (now Eutelsat 33C) let the company launch a digital service."}
    point = check_claim(Claim("Eutelsat 33C let the company launch a digital service.", (1,)), passages)
    assert point.supported, point.reason


def test_check_answer_joins_the_passages_of_one_source() -> None:
    passages = {1: ["Tasks run coroutines concurrently.", "A task is cancelled with cancel() in 2 steps."]}
    points = check_answer("Tasks run coroutines concurrently and are cancelled in 2 steps [1].", passages)
    assert [p.supported for p in points] == [True]
    assert check_answer("", passages) == []
