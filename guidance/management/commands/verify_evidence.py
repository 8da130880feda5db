from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from guidance import evidence_check, proof


class Command(BaseCommand):
    help = (
        "Check an evidence pack on its own, without the database: every row hash, digest, "
        "link and signature, and the witnessed heads. Exits 1 on any problem."
    )
    # Nothing here needs the database, or the project's checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("pack", help="The evidence pack (.zip).")
        parser.add_argument(
            "--public-key",
            metavar="FILE",
            help="The registry's public keys (PEM), as published: trust these, not the pack's.",
        )

    def handle(self, *args, pack, public_key=None, **options):
        trusted = None
        if public_key:
            try:
                trusted = Path(public_key).read_text()
            except OSError as error:
                raise CommandError(f"{public_key}: cannot be read ({error.strerror}).") from None
        try:
            problems, summary = evidence_check.check_pack(pack, trusted)
        except (evidence_check.BadPack, proof.KeyProblem) as problem:
            raise CommandError(str(problem)) from None
        for problem in problems:
            self.stdout.write(f"Problem: {problem}")
        self.stdout.write(
            f"Checked {summary['changes']} changes of {summary['reference']}, "
            f"{summary['history rows']} history rows, {summary['chain links']} chain links, "
            f"{summary['witnessed heads']} witnessed heads."
        )
        source = "the keys you gave" if summary["trusted keys given"] else "the pack's own keys"
        self.stdout.write(f"Signatures checked with {source}: {', '.join(summary['keys'])}.")
        if problems:
            raise CommandError(f"The evidence pack does not verify: {len(problems)} problem(s).")
        self.stdout.write(self.style.SUCCESS("The evidence pack verifies: no problems found."))
