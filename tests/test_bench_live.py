"""The benchmark's live rounds, made small, against a live server: the mixed load's operations
and the first requests after a change.

Apart from tests/test_bench_smoke.py: its data set is made once for that module inside a
transaction, which these tests, committing through a live server, must not run inside.
"""

import argparse
import io

import pytest
from django.core.management import call_command
from django.db import connection

from bench import first_requests, mixed
from bench.generate import generate
from bench.tasks import prepare_mixed
from tests.factories import make_document


@pytest.mark.second_factor
def test_each_operation_of_the_mixed_load_answers_as_expected(live_server):
    generate(documents=30, history_rows=3000, log=lambda line: None)
    prepared = prepare_mixed(argparse.Namespace(clients=1, accounts_per_client=2))
    pages = {key: value for key, value in prepared.items() if key != "clients"}
    connection = mixed.Connection(live_server.url, prepared["clients"][0], pages, seed=1)

    assert connection.sign_in()
    for kind in mixed.MIX:
        # Twice: a save puts its change back the second time.
        for _ in range(2):
            connection.operation(kind)

    output = io.StringIO()
    call_command("verify_history", stdout=output)
    assert "no problems found" in output.getvalue()


def test_the_first_requests_round_requests_each_page_once_and_counts_what_was_not_found(
    live_server,
):
    make_document("HTG970")
    paths = ["/guidance/htg970/", "/guidance/htg970/chapter/1-recommendations/"] * 3
    paths += ["/guidance/htg971/"]
    # On SQLite the live server's threads share the test's one in-memory connection, which
    # cannot serve two requests at once.
    concurrent = 1 if connection.vendor == "sqlite" else 4
    measured = first_requests.request_each_once(live_server.url, paths, connections=concurrent)
    assert measured["requests"] == 7
    assert measured["bad_status"] == 1
    assert 0 < measured["p50_ms"] <= measured["p99_ms"] <= measured["max_ms"]
