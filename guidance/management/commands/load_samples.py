import os
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class Command(BaseCommand):
    help = "Import the sample NICE documents that ship with the project (see samples/README.md)."

    def handle(self, **options):
        paths = sorted(
            os.path.relpath(path)
            for path in SAMPLES.iterdir()
            if path.suffix in {".txt", ".md"} and path.name != "README.md"
        )
        call_command("import_guidance", *paths, stdout=self.stdout, stderr=self.stderr)
