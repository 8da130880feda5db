from django.core.management.base import BaseCommand, CommandError

from guidance.ledger import chain_head


class Command(BaseCommand):
    help = (
        "Print the head of the history chain as SEQUENCE:DIGEST. Keep a copy outside the "
        "system; verify_history --expect-head checks the chain still holds it."
    )

    def handle(self, *args, **options):
        head = chain_head()
        if head is None:
            raise CommandError("No change has been recorded yet.")
        self.stdout.write(f"{head.sequence}:{head.digest}")
        self.stdout.write(f"Recorded at {head.created_at.isoformat()} (change {head.id}).")
