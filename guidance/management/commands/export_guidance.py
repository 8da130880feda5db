import json

from django.core.management.base import BaseCommand, CommandError

from guidance.interchange.exporters import export_json, export_text, load_document
from guidance.models import Guidance, MalformedReference, normalise_reference


class Command(BaseCommand):
    help = "Write a document as NICE's text format or as its structured JSON record."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="e.g. HTG501")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, reference, format, **options):
        try:
            guidance = load_document(normalise_reference(reference))
        except MalformedReference as error:
            raise CommandError(str(error)) from None
        except Guidance.DoesNotExist:
            raise CommandError(f"no guidance with reference {reference!r}") from None
        if format == "json":
            self.stdout.write(json.dumps(export_json(guidance), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(export_text(guidance), ending="")
