"""``Started``: the first event the CLI prints before pydantic is imported is the one the model would write."""

from __future__ import annotations

import pytest

from knowledge_agg import KnowledgeAggregator
from knowledge_agg.events import StatusEvent, parse_event
from knowledge_agg.started import Started


@pytest.mark.parametrize("query", ["asyncio tasks", 'a "quoted" \\ back\\slash', "naïve café 東京 🚀", "x" * 5000, ""])
@pytest.mark.parametrize("t_ms", [0.0, 0.001, 0.015, 1.5, 12345.678])
def test_the_light_json_is_what_the_status_model_serialises(query: str, t_ms: float) -> None:
    started = Started(query, 0.0, t_ms)
    model = StatusEvent.model_validate(started.fields())
    assert started.to_json() == model.to_json()
    assert parse_event(started.to_json()) == model


async def test_a_run_given_started_yields_that_event_first_and_keeps_its_clock() -> None:
    query = "How do asynchronous generators work?"
    started = Started(query, Started.now(query).clock - 2.0, 0.004)  # the caller started it two seconds ago
    async with KnowledgeAggregator() as agg, agg.stream(query, provider="local", started=started) as events:
        run = [event async for event in events]
    assert run[0] == StatusEvent.model_validate(started.fields()) and run[0].message == "query received (36 characters)"
    assert [e.seq for e in run] == list(range(len(run)))
    assert run[1].t_ms >= 2000 and run[-1].metrics["first_status_ms"] == 0.004


async def test_a_run_without_started_starts_its_own_clock_when_iterated() -> None:
    async with KnowledgeAggregator() as agg, agg.stream("asyncio tasks", provider="local") as events:
        first = await anext(events)
    assert first == StatusEvent.model_validate(Started("asyncio tasks", 0.0, first.t_ms).fields())


def test_started_belongs_to_its_query() -> None:
    with pytest.raises(ValueError, match="another query"):
        KnowledgeAggregator().stream("one question", started=Started.now("another question"))
