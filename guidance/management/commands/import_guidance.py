from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from guidance.interchange.importers import ReferenceFinder, import_guidance_file


class Command(BaseCommand):
    help = (
        "Import NICE guidance documents from their text; each file in its own transaction. "
        "Lines not understood are kept as plain text and reported; a file that cannot be "
        "imported is reported and the next one is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Text files of NICE guidance documents.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change.")
        parser.add_argument("--user", help="Username to record as the importer (default: system).")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Refuse a file at its first line not understood, instead of keeping it as text.",
        )
        parser.add_argument(
            "--max-bytes",
            type=int,
            help="Refuse files larger than this (default: the GUIDANCE_IMPORT_MAX_BYTES setting).",
        )

    def handle(self, paths, dry_run=False, user=None, strict=False, max_bytes=None, **options):
        if user:
            try:
                user = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"--user {user!r}: no such user") from None
        finder = ReferenceFinder()
        failed = 0
        for path in paths:
            result = import_guidance_file(
                path,
                user=user,
                dry_run=dry_run,
                finder=finder,
                strict=strict,
                max_bytes=max_bytes,
            )
            if result.error:
                failed += 1
                self.stderr.write(self.style.ERROR(str(result.error)))
                continue
            for warning in result.warning_lines():
                self.stderr.write(self.style.WARNING(warning))
            prefix = "would change " if dry_run and result.changed else ""
            self.stdout.write(f"{result.path}: {prefix}{result.summary()}")
            if dry_run or options["verbosity"] > 1:
                for change in result.changes:
                    self.stdout.write(f"  {change}")
        if failed:
            raise CommandError(f"{failed} of {len(paths)} files not imported")
