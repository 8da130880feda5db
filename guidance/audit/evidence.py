"""An evidence pack: a document's changes over a period, in a zip that checks on its own.

It holds the timeline, each change's diff and the document's text before and after it, the
history rows and their hashes, the chain from the first change to the head with every
signature, the public keys and the heads the witness kept. ``verify_evidence PACK`` checks
it on a machine without the database (guidance.evidence_check). Times are in UTC.
"""

import csv
import datetime
import hashlib
import io
import json
import zipfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date

from .. import ledger, proof, witness
from ..evidence_check import PACK_FORMAT
from ..models import ChangeSet
from . import trail


def utc(value):
    """An instant as ISO 8601 in UTC, the zone shown."""
    return value.astimezone(datetime.UTC).isoformat()


def utc_text(value):
    return f"{value.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _plain_row(values):
    return {name: proof.plain(value) for name, value in values.items()}


def document_text(snapshot):
    """The document as it stood, part by part, as plain text."""
    if snapshot is None:
        return "(The document did not exist.)\n"
    lines = []
    for _order, label, values in sorted(trail.parts_of(snapshot).values(), key=lambda p: p[0]):
        lines.append(f"== {label}")
        lines += [f"{name}: {value}" for name, value in values.items() if value]
        lines.append("")
    return "\n".join(lines)


def diff_text(change, differences):
    lines = [
        f"Change {change.sequence} recorded at {utc_text(change.created_at)}",
        f"By {change.username} ({change.user_display_name or change.username})",
        f"Reason: {change.reason}",
        "",
    ]
    if not differences:
        lines.append("(Nothing the document shows changed.)")
    for part in differences:
        lines.append(f"{part.label} {part.action}")
        for field in part.fields:
            lines.append(f"  {field.name}:")
            lines.append(f"    before: {field.old}")
            lines.append(f"    after:  {field.new}")
    return "\n".join(lines) + "\n"


def period(start, end):
    """(from, to) instants of a period given as dates or times; a date alone 'to' means its end."""
    start, end = (start or "").strip(), (end or "").strip()
    start_at = end_at = None
    try:
        if start:
            day = parse_date(start) if len(start) == 10 else None
            if day is not None:
                start_at = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
            else:
                start_at = trail.parse_moment(start, before=True).at
        if end:
            end_at = trail.parse_moment(end).at
    except (ValueError, OverflowError):
        raise trail.BadMoment(
            "Give the period's dates as 2026-01-31, or a date and time as 2026-01-31T14:30."
        ) from None
    if start_at and end_at and start_at > end_at:
        raise trail.BadMoment("The period starts after it ends: swap the dates.")
    return start_at, end_at


def period_changes(guidance, start=None, end=None):
    """The changes that touched a document, within [start, end], in the order of the chain."""
    changes = trail.changes_touching(trail.document_family(guidance))
    if start is not None:
        changes = changes.filter(created_at__gte=start)
    if end is not None:
        changes = changes.filter(created_at__lte=end)
    return changes.select_related("user").order_by("sequence")


def build_pack(guidance, start=None, end=None):
    """Return the evidence pack of a document for a period, as zip bytes."""
    changes = list(period_changes(guidance, start, end))
    ids = trail.document_family(guidance)
    files = {}

    # The rows each change wrote, table by table: one query a table for the whole period.
    history_rows = {change.id.hex: {} for change in changes}
    in_period = period_changes(guidance, start, end).values("pk")
    for model, rows in trail.history_of(ids):
        history = model.history.model
        written = model.history.filter(rows, change_set__in=in_period)
        for values in written.values(*ledger.current_fields(history)):
            tables = history_rows[values["change_set_id"].hex]
            tables.setdefault(history._meta.db_table, []).append(_plain_row(values))

    change_rows, timeline = [], []
    replay = trail.Replay()
    for change in changes:
        change_rows.append(
            {
                "id": change.id.hex,
                "previous_digest": change.previous_digest,
                "digest": change.digest,
                "signature": change.signature,
                "row_hashes": change.row_hashes,
                **{name: getattr(change, name) for name in proof.EFFECTIVE_CHANGE_FIELDS},
                "created_at": utc(change.created_at),
                "effective_at": utc(change.effective_at) if change.effective_at else None,
            }
        )
        just_before = trail.Moment(change.created_at, inclusive=False, change=change)
        just_after = trail.Moment(change.created_at, change=change)
        before = trail.as_it_stood(guidance.pk, just_before, replay)
        after = trail.as_it_stood(guidance.pk, just_after, replay)
        differences = trail.diff(before, after)
        folder = f"changes/{change.sequence:08d}"
        files[f"{folder}/diff.txt"] = diff_text(change, differences)
        files[f"{folder}/before.txt"] = document_text(before)
        files[f"{folder}/after.txt"] = document_text(after)
        timeline.append(
            [
                change.sequence,
                utc(change.created_at),
                utc(change.took_effect_at),
                change.effective_precision if change.effective_at else "exact",
                change.username,
                change.user_display_name,
                change.reason,
                change.kind,
                change.source,
                "; ".join(part.summary for part in differences),
                change.digest,
            ]
        )

    head = ledger.chain_head()
    first = changes[0].sequence if changes else (head.sequence if head else 1)
    chain = [
        {
            "sequence": link["sequence"],
            "previous_digest": link["previous_digest"],
            "digest": link["digest"],
            "format": link["format"],
            "key_id": link["key_id"],
            "signature": link["signature"],
            "created_at": utc(link["created_at"]),
        }
        for link in ChangeSet.objects.filter(sequence__gte=first)
        .order_by("sequence")
        .values(
            "sequence", "previous_digest", "digest", "format", "key_id", "signature", "created_at"
        )
        .iterator(chunk_size=2000)
    ]
    witnessed = []
    if settings.HISTORY_WITNESS_FILE and Path(settings.HISTORY_WITNESS_FILE).exists():
        witnessed = [
            {"sequence": sequence, "digest": digest}
            for sequence, digest, _line in witness.read_heads(settings.HISTORY_WITNESS_FILE)
            if sequence >= first
        ]

    timeline_csv = io.StringIO()
    writer = csv.writer(timeline_csv)
    writer.writerow(
        ["sequence", "recorded at (UTC)", "took effect (UTC)", "effective precision",
         "username", "name", "reason", "kind", "source", "what changed", "digest"]
    )  # fmt: skip
    writer.writerows(timeline)
    keys = ledger.verification_keys()
    files |= {
        "changes.json": _dumps(change_rows),
        "history_rows.json": _dumps(history_rows),
        "chain.json": _dumps(chain),
        "witnessed_heads.json": _dumps(witnessed),
        "public_keys.pem": "".join(proof.public_pem(key) for key in keys.values()),
        "timeline.csv": timeline_csv.getvalue(),
        "README.txt": _readme(guidance, start, end, len(changes)),
    }
    manifest = {
        "format": PACK_FORMAT,
        "reference": guidance.reference,
        "title": guidance.title,
        "from": utc(start) if start else None,
        "to": utc(end) if end else None,
        "made_at": utc(datetime.datetime.now(datetime.UTC)),
        "chain_head": {"sequence": head.sequence, "digest": head.digest} if head else None,
        "key_ids": sorted(keys),
        "files": {
            name: hashlib.sha256(content.encode()).hexdigest()
            for name, content in sorted(files.items())
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pack:
        pack.writestr("manifest.json", _dumps(manifest))
        for name, content in sorted(files.items()):
            pack.writestr(name, content)
    return buffer.getvalue()


def _dumps(value):
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=str)


def _readme(guidance, start, end, count):
    period = f"{utc_text(start) if start else 'the beginning'} to {utc_text(end) if end else 'now'}"
    return (
        f"Evidence for {guidance.reference} ({guidance.title}), {period}: {count} change(s).\n"
        "All times are in UTC.\n\n"
        "timeline.csv            the changes, in the order of the chain\n"
        "changes/N/diff.txt      what change N changed; before.txt and after.txt: the document\n"
        "changes.json            each change as sealed: who, when, why, its row hashes, digest\n"
        "history_rows.json       the document's history rows each change wrote\n"
        "chain.json              every link from the first change to the head, with signatures\n"
        "public_keys.pem         the keys that verify the signatures (compare with published)\n"
        "witnessed_heads.json    heads kept outside the database, from the first change on\n\n"
        "Check it without the database: python manage.py verify_evidence PACK "
        "[--public-key FILE]\n"
    )
