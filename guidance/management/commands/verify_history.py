import gc
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from guidance import witness
from guidance.ledger import Verification

HEAD = re.compile(r"^(\d+):([0-9a-f]{64})$")


def head_argument(value):
    match = HEAD.match(value.strip().lower())
    if not match:
        raise CommandError(
            f"--expect-head {value!r}: give the head you kept as SEQUENCE:DIGEST, "
            "e.g. 1234:9f86d081884c7d65…(64 hex digits), as history_head prints it."
        )
    return int(match.group(1)), match.group(2)


class Command(BaseCommand):
    help = (
        "Recompute every history row's hash and the chain of changes, check every signature "
        "and that times follow the sequence, compare the chain with the witnessed heads and the "
        "triggers with what the migrations installed; report rows that do not match, and live "
        "rows that differ from their history. Exits 1 on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            metavar="SEQUENCE:DIGEST",
            help="A chain head kept outside the system: check the chain still holds it.",
        )
        parser.add_argument(
            "--witness",
            metavar="PATH",
            help="A witness file of heads (SEQUENCE:DIGEST lines): check each is on the chain. "
            "Default: HISTORY_WITNESS_FILE, if it exists.",
        )
        parser.add_argument(
            "--limit", type=int, default=20, help="Print at most this many problems (20)."
        )

    def handle(self, *args, expect_head=None, limit=20, **options):
        witness_path = options.get("witness")
        default = settings.HISTORY_WITNESS_FILE
        if witness_path is None and default and Path(default).exists():
            witness_path = default
        witnessed = []
        if witness_path:
            try:
                witnessed = witness.read_heads(witness_path)
            except witness.BadWitness as problem:
                raise CommandError(str(problem)) from None
        verification = Verification(
            expect_head=head_argument(expect_head) if expect_head else None, witnessed=witnessed
        )
        found = 0
        # Millions of long-lived tuples: the cyclic garbage collector would rescan them often
        # and find nothing to free.
        gc.disable()
        try:
            for problem in verification.problems():
                found += 1
                if found == 1:
                    self.stdout.write(f"First problem: {problem}")
                elif found <= limit:
                    self.stdout.write(f"Problem: {problem}")
        finally:
            gc.enable()
        counts = ", ".join(f"{count} {name}" for name, count in verification.counts.items())
        if witness_path:
            counts += f", {len(witnessed)} witnessed heads from {witness_path}"
        self.stdout.write(f"Checked {counts}.")
        head = verification.head
        if head is not None:
            self.stdout.write(f"Chain head: {head.sequence}:{head.digest}")
        if found:
            more = f" ({found - limit} not shown)" if found > limit else ""
            raise CommandError(f"History does not verify: {found} problem(s){more}.")
        self.stdout.write(self.style.SUCCESS("History verifies: no problems found."))
