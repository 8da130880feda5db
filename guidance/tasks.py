"""Work the background worker (python manage.py db_worker) does with nobody present."""

from django.tasks import task

from .editions import publish_due
from .history import system_user


@task
def publish_due_guidance():
    """Publish every scheduled draft whose moment has come, as the system account.

    Queued to run at each scheduled moment; a run finds whatever is due by then, so a draft
    rescheduled later waits for its own run, and one overdue while the worker was down goes
    live at the first run after the worker returns.
    """
    return publish_due(user=system_user())
