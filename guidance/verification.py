"""History verified on a schedule, through the background tasks, and the verdict kept.

``manage.py schedule_verification`` (``make run`` calls it) queues verify_history_regularly
once; each run verifies the whole history against the witness, appends the chain head to the
witness, stores the verdict (HistoryVerification) that the history area shows, and queues the
next run HISTORY_VERIFY_INTERVAL seconds later.
"""

import datetime
import logging
from pathlib import Path

from django.conf import settings
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from . import ledger, witness
from .models import HistoryVerification

logger = logging.getLogger(__name__)

# How many problems a verdict keeps to show; the count says how many there were.
PROBLEMS_KEPT = 50


def verify_now():
    """Verify the whole history (and the witness, if configured); store and return the verdict."""
    started = timezone.now()
    lines, count = [], 0
    witnessed = []
    path = settings.HISTORY_WITNESS_FILE
    if path and Path(path).exists():
        try:
            witnessed = witness.read_heads(path)
        except witness.BadWitness as problem:
            count, lines = 1, [str(problem)]
    verification = ledger.Verification(witnessed=witnessed)
    for problem in verification.problems():
        count += 1
        if len(lines) < PROBLEMS_KEPT:
            lines.append(str(problem))
    head = verification.head
    return HistoryVerification.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        passed=count == 0,
        problem_count=count,
        problems="\n".join(lines),
        head_sequence=head.sequence if head else None,
        head_digest=head.digest if head else "",
        counts=verification.counts,
    )


def witness_head():
    """Append the chain head to the witness (besides every commit's): at least once a run."""
    head, path = ledger.chain_head(), settings.HISTORY_WITNESS_FILE
    if head is None or not path:
        return
    try:
        witness.append_head(path, head.sequence, head.digest, head.created_at)
    except OSError as error:
        logger.error("Could not append the head to the witness: %s", error)


def latest_verdict():
    return HistoryVerification.objects.order_by("-finished_at", "-pk").first()


@task
def verify_history_regularly():
    """Verify history, witness the head, and queue the next run after the interval."""
    try:
        verdict = verify_now()
        witness_head()
    finally:
        later = timezone.now() + datetime.timedelta(seconds=settings.HISTORY_VERIFY_INTERVAL)
        verify_history_regularly.using(run_after=later).enqueue()
    return {"passed": verdict.passed, "problems": verdict.problem_count}


def is_scheduled():
    """Whether a run of verify_history_regularly waits in the queue or is running."""
    return DBTaskResult.objects.filter(
        task_path=verify_history_regularly.module_path,
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
    ).exists()


def schedule():
    """Queue the regular verification to run now, unless a run already waits. True if queued."""
    if is_scheduled():
        return False
    verify_history_regularly.enqueue()
    return True
