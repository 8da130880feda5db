from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from guidance.audit import evidence, trail
from guidance.models import Guidance, MalformedReference, normalise_reference


class Command(BaseCommand):
    help = (
        "Write the evidence pack of a document for a period (a zip that verify_evidence "
        "checks without the database)."
    )

    def add_arguments(self, parser):
        parser.add_argument("reference", help="The document, e.g. HTG501.")
        parser.add_argument("--from", dest="start", help="From this date or time (2026-01-31).")
        parser.add_argument("--to", dest="end", help="To this date (its end) or time.")
        parser.add_argument(
            "-o", "--output", help="Where to write the pack (default: REFERENCE-evidence.zip)."
        )

    def handle(self, *args, reference, start=None, end=None, output=None, **options):
        try:
            guidance = Guidance.objects.get(reference=normalise_reference(reference))
        except (MalformedReference, Guidance.DoesNotExist):
            raise CommandError(f"There is no guidance {reference!r}.") from None
        try:
            start_at, end_at = evidence.period(start, end)
        except trail.BadMoment as problem:
            raise CommandError(str(problem)) from None
        path = Path(output or f"{guidance.reference}-evidence.zip")
        path.write_bytes(evidence.build_pack(guidance, start_at, end_at))
        self.stdout.write(f"Wrote the evidence pack of {guidance.reference} to {path}.")
