"""schemathesis against the 8001 server's own OpenAPI schema, over real loopback HTTP: no 5xx, no off-schema response.

Two servers: a normal one for every operation (the development-only ones must answer a documented
403 there), and a development-mode one for the flag and injection operations only, whose random
changes could otherwise slow or break the runs of the first. Nothing streams forever: every run
of ``/v1/stream``, ``/search`` and ``/v1/answer`` ends with ``done``, so all of them are included.

Three of schemathesis' checks are left out, as they test leniency and framework details rather
than "no 5xx, no off-schema response": ``positive_data_acceptance`` (the server rightly refuses with
a documented 422 a blank query, a malformed ``flags`` string, or a stand-in request without Brave's
token — rules the schema's types cannot express), ``negative_data_rejection`` (pydantic's lax mode
accepts ``false`` for an integer and ``12.0`` for 12) and ``allow_header_conformance`` (Starlette's
405 lists only the methods of the first route on a path, e.g. ``Allow: GET`` on ``/v1/flags``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from schemathesis.checks import allow_header_conformance, negative_data_rejection, positive_data_acceptance

from knowledge_agg.server import create_app
from knowledge_agg.settings import Settings
from tests.helpers.corpus_server import running_server

# The schema is read from the app itself (creating it opens nothing); requests go to the live servers.
schema = schemathesis.openapi.from_dict(create_app(Settings(provider="local")).openapi())
_EXCLUDED = [positive_data_acceptance, negative_data_rejection, allow_header_conformance]
_DEV_PATHS = ("/v1/flags", "/v1/injection")
_EXAMPLES = hsettings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("schemathesis"), standin_rate_per_second=0) as base:
        yield base


@pytest.fixture(scope="module")
def dev_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("schemathesis-dev"), dev_mode=True) as base:
        yield base


@schema.parametrize()
@_EXAMPLES
def test_every_operation_conforms(case: schemathesis.Case, url: str) -> None:
    response = case.call_and_validate(base_url=url, excluded_checks=_EXCLUDED, timeout=30)
    if case.operation.method.upper() in ("PUT", "PATCH"):
        assert response.status_code >= 400, "development-only operations must be off without --dev"


@schema.include(path_regex="^(" + "|".join(_DEV_PATHS) + ")$").parametrize()
@_EXAMPLES
def test_development_operations_conform_in_dev_mode(case: schemathesis.Case, dev_url: str) -> None:
    case.call_and_validate(base_url=dev_url, excluded_checks=_EXCLUDED, timeout=30)
