"""History is verified on a schedule by the background worker, and auditors see the verdict."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from guidance import ledger, verification
from guidance.models import HistoryVerification
from tests.factories import make_auditor, make_document

pytestmark = pytest.mark.django_db


def command(*args):
    output = io.StringIO()
    call_command("schedule_verification", *args, stdout=output)
    return output.getvalue()


def drain_the_queue():
    call_command("db_worker", batch=True, no_startup_delay=True, reload=False, verbosity=0)


def queued_runs():
    return DBTaskResult.objects.filter(
        task_path=verification.verify_history_regularly.module_path,
        status=TaskResultStatus.READY,
    )


@pytest.fixture
def witness(settings, tmp_path):
    path = tmp_path / "witness"
    settings.HISTORY_WITNESS_FILE = str(path)
    return path


# The worker closes its database connection between tasks: no test transaction around it.
@pytest.mark.django_db(transaction=True)
def test_the_worker_verifies_witnesses_the_head_and_runs_again_an_hour_later(settings, witness):
    settings.HISTORY_VERIFY_INTERVAL = 3600
    make_document("HTG950", chapters=1, recommendations=1)
    assert "Queued" in command()
    assert "already queued" in command()
    assert queued_runs().count() == 1

    drain_the_queue()

    verdict = HistoryVerification.objects.get()
    assert verdict.passed and verdict.problem_count == 0
    assert verdict.counts["changes"] >= 1
    head = ledger.chain_head()
    assert f"{head.sequence}:{head.digest}" in witness.read_text().splitlines()[-1]
    (next_run,) = queued_runs()
    expected = timezone.now() + datetime.timedelta(hours=1)
    assert abs(next_run.run_after - expected) < datetime.timedelta(minutes=1)


def test_the_history_area_says_when_history_was_last_verified_and_the_result(client):
    make_document("HTG951", chapters=1, recommendations=1)
    client.force_login(make_auditor())
    html = client.get(reverse("audit:index")).content.decode()
    assert "History has not been verified yet" in html
    command("--now")
    html = client.get(reverse("audit:index")).content.decode()
    when = timezone.localtime(HistoryVerification.objects.get().finished_at)
    assert "History was last verified on" in html
    assert f"{when.day} {when:%B %Y, %H:%M:%S}" in html
    assert "it verifies" in html
    assert "History does not verify" not in html


def tamper_with_the_live_row(title):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE guidance_guidance SET title = %s WHERE reference = %s", [title, "HTG952"]
        )


@pytest.mark.parametrize("group", ["Auditors", "Publishers"])
def test_a_failure_is_shown_on_every_page_of_the_area_until_a_later_verification_passes(
    client, group
):
    document = make_document("HTG952", chapters=1, recommendations=1, title="Honest title")
    client.force_login(make_auditor(group=group))
    pages = [
        reverse("audit:index"),
        reverse("audit:log"),
        reverse("audit:timeline", args=["htg952"]),
        reverse("audit:as-it-stood", args=["htg952"]) + "?at=2026-12-03",
        reverse("audit:diff", args=["htg952"]) + "?from=2026-01-01&to=2026-12-03",
    ]
    command("--now")
    for page in pages:  # seen (and cached) while history verifies
        assert "History does not verify" not in client.get(page).content.decode()

    tamper_with_the_live_row("Forged title")
    assert "1 problem(s)" in command("--now")
    for page in pages:
        html = client.get(page).content.decode()
        assert "History does not verify" in html, page
        assert "guidance_guidance" in html and "a write that bypassed history" in html

    tamper_with_the_live_row(document.title)
    assert "History verifies" in command("--now")
    for page in pages:
        assert "History does not verify" not in client.get(page).content.decode(), page
