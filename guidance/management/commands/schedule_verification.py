from django.core.management.base import BaseCommand

from guidance import verification


class Command(BaseCommand):
    help = (
        "Queue the regular verification of history for the background worker (db_worker): "
        "it verifies history, appends the chain head to the witness and stores the verdict the "
        "history area shows, then runs again every HISTORY_VERIFY_INTERVAL seconds. Does "
        "nothing if a run is already queued. --now verifies at once, here, instead."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", action="store_true", help="Verify now, without the worker, and say so."
        )

    def handle(self, *args, now=False, **options):
        if now:
            verdict = verification.verify_now()
            verification.witness_head()
            result = "verifies" if verdict.passed else f"{verdict.problem_count} problem(s)"
            self.stdout.write(f"History {result}; the history area shows this verdict.")
            return
        if verification.schedule():
            self.stdout.write("Queued the regular verification of history.")
        else:
            self.stdout.write("The regular verification of history is already queued.")
