"""A process killed in the middle of a save or a workflow leaves nothing half-written.

A real process writes through the product's own code and is killed (SIGKILL, as the kernel's
out-of-memory killer or a lost machine would) after its rows are written and before its change
is sealed and committed. Nothing of it may remain, and history must still verify.
"""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from guidance.models import Block, ChangeSet, Guidance, Relation
from tests.factories import make_document

ROOT = Path(settings.BASE_DIR)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a second process reaches the test database only on PostgreSQL "
        "(SQLite's test database is in memory)",
    ),
]

# Runs in the killed process: pause just before the change is sealed, with every row written.
PAUSE_BEFORE_SEAL = """
import sys, time
from guidance import ledger
seal = ledger.seal
def paused_seal(*args, **kwargs):
    print("WRITTEN", flush=True)
    time.sleep(120)
    return seal(*args, **kwargs)
ledger.seal = paused_seal
"""

EDIT = """
from guidance.history import recording
from guidance.models import Block, Guidance
guidance = Guidance.objects.get(reference="HTG960")
with recording(reason="An edit that is interrupted"):
    block = Block.objects.get(guidance=guidance, number="1.1")
    block.text = "Half-written recommendation."
    block.save()
    guidance.title = "Half-written title"
    guidance.save()
"""

MIGRATION = """
import datetime
from guidance.editorial.services import migrate_guidance
from guidance.history import system_user
from guidance.models import Guidance
migrate_guidance(
    guidance=Guidance.objects.get(reference="HTG960"),
    new_reference="HTG961",
    month=datetime.date(2026, 1, 1),
    user=system_user(),
    reason="A migration that is interrupted",
)
"""


def kill_while_writing(code):
    environment = {**os.environ, "DATABASE_URL": database_url()}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PAUSE_BEFORE_SEAL + code],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        paused = any(line.strip() == "WRITTEN" for line in process.stdout)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert paused, f"the writing process ended before it was killed: {process.stderr.read()}"


def database_url():
    config = connection.settings_dict
    host = config["HOST"] or "127.0.0.1"
    port = config["PORT"] or 5432
    return f"postgres://{config['USER']}@{host}:{port}/{config['NAME']}"


def history_verifies():
    out = io.StringIO()
    call_command("verify_history", stdout=out)
    return "no problems found" in out.getvalue()


@pytest.mark.parametrize("code", [EDIT, MIGRATION], ids=["admin-style edit", "migration"])
def test_a_process_killed_before_its_change_commits_leaves_nothing_behind(code):
    make_document("HTG960", chapters=2, recommendations=2)
    changes_before = ChangeSet.objects.count()
    block_history_before = Block.history.count()

    kill_while_writing(code)

    guidance = Guidance.objects.get(reference="HTG960")
    assert guidance.title != "Half-written title"
    assert not Block.objects.filter(text="Half-written recommendation.").exists()
    assert not Guidance.objects.filter(reference="HTG961").exists()
    assert not Relation.objects.filter(source=guidance).exists()
    assert ChangeSet.objects.count() == changes_before
    assert Block.history.count() == block_history_before
    assert history_verifies()
