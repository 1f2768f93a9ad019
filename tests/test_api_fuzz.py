# ruff: noqa: F811  (pytest fixtures imported from service_support)
"""Property-based fuzzing of the JSON API against its own OpenAPI document
(schemathesis, stateful), with every role's token and the rate and guess limits raised
for the run (issue 14, item 8): no answer is a 500, and every answer conforms to the
spec (status code documented or a declared error, body and content type as declared).

Bounded for CI: ``ELECTWATCH_FUZZ_EXAMPLES`` state-machine runs per role (default 3,
each a few steps); run a larger number by hand before a release.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from service_support import db_url, make_service  # noqa: F401

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

EXAMPLES = int(os.environ.get("ELECTWATCH_FUZZ_EXAMPLES", "3"))
ROLES = ("observer", "coordinator", "analyst", "admin")


def test_stateful_fuzz_finds_no_server_error(db_url: str, tmp_path: Path) -> None:
    for service in make_service(
        db_url,
        tmp_path,
        rate_per_second=10_000.0,
        rate_burst=100_000,
        login_client_attempts=100_000,
        login_user_client_attempts=100_000,
        login_user_attempts=100_000,
        api_docs=True,
    ):
        app = service.client.app
        # the spec is the app's own; requests go through the running test client (one
        # event loop, so the report writer and the limits are the real ones)
        schema = schemathesis.openapi.from_dict(app.openapi())
        for role in ROLES:
            headers = service.h(role)
            machine = schema.as_state_machine()

            class Fuzz(machine):  # type: ignore[misc, valid-type]
                role_headers = headers  # bound now: the class is used inside this loop step
                http = service.client

                def call(self, case, **kwargs):  # type: ignore[no-untyped-def]
                    kw = case.as_transport_kwargs(
                        base_url="http://testserver", headers=self.role_headers
                    )
                    kw.pop("cookies", None)
                    r = self.http.request(**kw)
                    r.request.read()  # multipart bodies are streams: make them readable
                    return schemathesis.Response.from_httpx(r, verify=True)

                def validate_response(self, response, case, **kwargs):  # type: ignore[no-untyped-def]
                    case.validate_response(
                        response,
                        checks=[
                            not_a_server_error,
                            response_schema_conformance,
                            content_type_conformance,
                        ],
                    )

            run_state_machine_as_test(
                Fuzz,
                settings=settings(
                    max_examples=EXAMPLES,
                    stateful_step_count=3,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    derandomize=True,
                    database=None,
                ),
            )
