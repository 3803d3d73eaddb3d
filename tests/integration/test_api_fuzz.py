"""Fuzz every operation of the OpenAPI spec with schemathesis: no input may cause a 5xx.

Calls go in-process (ASGI) with an admin token, so every route is reached past the token check
and the generated bodies, paths and queries hit the real handlers and a real store (SQLite,
seeded with a domain, a list and a running campaign).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api_world import ApiWorld, api_world, people_csv
from warmup.store.database import Database
from warmup.tokens import Role

pytestmark = pytest.mark.integration
EXAMPLES = 50  # per operation


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    folder = tmp_path_factory.mktemp("fuzz")
    database = Database.connect(f"sqlite:///{folder / 'warmup.db'}")
    # Every route is fuzzed, /metrics and /openapi.json too: no admin allow-list in the way
    # (schemathesis' client has no network address).
    with api_world(database, folder, api_admin_cidrs="") as world:
        headers = world.as_(Role.ADMIN)
        world.client.post(
            "/api/lists",
            headers=headers,
            data={"name": "people"},
            files={"file": ("p.csv", people_csv(20), "text/csv")},
        ).raise_for_status()
        world.client.post(
            "/api/campaigns",
            headers=headers,
            json={
                "name": "spring",
                "list": "people",
                "sender": "news@mail.example.com",
                "subject": "Hi {{ first_name }}",
                "text": "Hello",
            },
        ).raise_for_status()
        world.client.post("/api/campaigns/spring/start", headers=headers).raise_for_status()
        yield world
    database.dispose()


def test_no_input_causes_a_server_error(fuzz_world: ApiWorld) -> None:
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not run on pytest 9.
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_world.client.app)
    headers = fuzz_world.as_(Role.ADMIN)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25  # every route is in the spec, so every route is fuzzed
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same examples on every run: repeatable, not flaky
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # keep going: report every operation that fails
            failures.append(f"{operation.label}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures)
