"""PostgreSQL restarted under load: requests fail at most while it is down, then recover.

Production's server (gunicorn, DEBUG off) reads from a PostgreSQL server of the test's own, which
is stopped and started again while a client keeps asking for pages the page cache cannot hold.
"""

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from bench.serve import ROOT, gunicorn, production_environment
from tests.postgres_server import needs_own_postgres, postgres_server

pytestmark = [
    needs_own_postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a PostgreSQL drill: it runs once, with the suite on PostgreSQL",
    ),
]


def load_samples(environment):
    for command in (["migrate", "--noinput"], ["load_samples"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=environment,
            check=True,
            capture_output=True,
            timeout=300,
        )


class Client(threading.Thread):
    """Asks for a different search page each time, so that every request reads the database."""

    def __init__(self, base):
        super().__init__(daemon=True)
        self.base = base
        self.results = []  # (time asked, time answered, status or the error)
        self.running = True

    def run(self):
        number = 0
        while self.running:
            number += 1
            asked = time.monotonic()
            try:
                url = f"{self.base}/guidance/?q=venoplasty&page=1&n={number}"
                with urllib.request.urlopen(url, timeout=10) as response:
                    outcome = response.status
            except urllib.error.HTTPError as error:
                outcome = error.code
            except OSError as error:
                outcome = repr(error)
            self.results.append((asked, time.monotonic(), outcome))
            time.sleep(0.02)


def test_requests_recover_by_themselves_after_postgresql_restarts(tmp_path):
    with postgres_server() as database:
        environment = production_environment(database.url, redis_url="")
        load_samples(environment)
        with gunicorn(environment, workers=2, log_path=tmp_path / "gunicorn.log") as served:
            base = served[0]
            client = Client(base)
            client.start()
            time.sleep(2)
            went_down = time.monotonic()
            database.stop()
            time.sleep(1)
            database.start()
            came_back = time.monotonic()
            time.sleep(4)
            client.running = False
            client.join(timeout=15)

    down = [
        outcome for asked, answered, outcome in client.results if went_down <= asked <= came_back
    ]
    # While it is down, the pages that need it say so (503, with a time to retry), never 500.
    assert set(down) <= {200, 503}
    before = [outcome for asked, answered, outcome in client.results if answered < went_down]
    after = [outcome for asked, answered, outcome in client.results if asked > came_back + 1]
    assert before and set(before) == {200}
    # Once PostgreSQL has been back for a second, every request is answered again.
    assert after and set(after) == {200}, after
