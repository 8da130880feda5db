"""Heads kept outside the database: every committed change's SEQUENCE:DIGEST, in a file.

The file (HISTORY_WITNESS_FILE) is only ever appended to; in production it belongs to
another account, or is made append-only (chattr +a), so that the database's owner cannot
rewrite it. verify_history --witness checks every head it holds is still on the chain: a
truncated or resealed chain fails, even if the signing key leaked after the head was written.
"""

import datetime
import logging
import os
import re

from django.conf import settings
from django.dispatch import receiver

from .history import change_committed

logger = logging.getLogger(__name__)

LINE = re.compile(r"^(\d+):([0-9a-f]{64})(?:\s+(\S+))?\s*$")


class BadWitness(ValueError):
    """A witness file that cannot be read; the message says which line and why."""


def witness_line(sequence, digest, created_at):
    when = created_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return f"{sequence}:{digest} {when}\n"


def append_head(path, sequence, digest, created_at):
    """Append one head to the witness file, in one write, and flush it to disk."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, witness_line(sequence, digest, created_at).encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_heads(path):
    """[(sequence, digest, line number)] of a witness file, or BadWitness naming the line."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise BadWitness(f"{path}: cannot be read ({error.strerror}).") from None
    heads = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = LINE.match(line.strip())
        if not match:
            raise BadWitness(
                f"{path}, line {number}: {line[:80]!r} is not SEQUENCE:DIGEST (64 hex digits)."
            )
        heads.append((int(match.group(1)), match.group(2), number))
    return heads


@receiver(change_committed, dispatch_uid="guidance_witness_head")
def witness_committed_change(sender, change_set, **kwargs):
    path = settings.HISTORY_WITNESS_FILE
    if not path:
        return
    try:
        append_head(path, change_set.sequence, change_set.digest, change_set.created_at)
    except OSError as error:
        # The change is committed: say loudly that its head was not kept outside.
        logger.error(
            "Could not append change %s to the witness %s: %s", change_set.sequence, path, error
        )
