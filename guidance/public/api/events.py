"""What the public may know of a document's past, and of every change, for the API.

The public history and the changes feed say what happened and when, never who or why: the
reasons and the people behind a change stay in the audit area.
"""

from django.db.models import Min
from django.urls import reverse
from django.utils.http import urlencode

from ...models import (
    Block,
    ChangeSet,
    Chapter,
    Endorsement,
    Guidance,
    GuidanceStatus,
    Programme,
    RelationType,
    ResponsibilityStatement,
    UpdateEntry,
    date_json,
)
from ...models import Relation as RelationModel

CHANGES_PER_PAGE = 100

# The parts of a document a change can touch, by the model whose history records it.
PARTS = (
    (Guidance, "id", "record"),
    (Chapter, "guidance_id", "chapters"),
    (Block, "guidance_id", "chapters"),
    (UpdateEntry, "guidance_id", "update_information"),
    (Endorsement, "guidance_id", "endorsements"),
    (RelationModel, "source_id", "relations"),
    (RelationModel, "target_id", "relations"),
)
# Changes to a programme or its 'Your responsibility' wording change every document in it.
PROGRAMME_PARTS = ((Programme, "id"), (ResponsibilityStatement, "programme_id"))

REPLACED_BY = {
    RelationType.REPLACES: "replaced-by",
    RelationType.PARTIALLY_REPLACES: "partially-replaced-by",
}


def reference_in_force(guidance, date):
    """The reference the document had on a date: its former one until it was migrated."""
    migrations = sorted(
        (r for r in guidance.former_references if r.effective_on),
        key=lambda r: r.effective_on,
    )
    for relation in migrations:
        if date is not None and date < relation.effective_on:
            return relation.source.reference
    return guidance.reference


def event(type_, date, precision, reference, text, related=None, kind=None):
    return {
        "type": type_,
        "date": date_json(date, precision),
        "reference": reference,
        "text": text,
        "related": related,
        "kind": kind,
    }


def public_events(guidance):
    """Publication, update information, migrations, replacements and withdrawal, oldest first."""
    events = []
    if guidance.published_on:
        reference = reference_in_force(guidance, guidance.published_on)
        events.append(
            event(
                "published",
                guidance.published_on,
                guidance.published_precision,
                reference,
                f"Published as {reference}.",
            )
        )
    for entry in guidance.update_entries.all():
        events.append(
            event(
                "updated",
                entry.date,
                entry.precision,
                reference_in_force(guidance, entry.date),
                entry.text,
                kind=entry.kind,
            )
        )
    for relation in guidance.former_references:
        events.append(
            event(
                "migrated",
                relation.effective_on,
                relation.effective_precision,
                guidance.reference,
                relation.note or f"{relation.source.reference} became {guidance.reference}.",
                related=relation.source.reference,
            )
        )
    for relation in guidance.replaces:
        events.append(
            event(
                relation.type,
                relation.effective_on,
                relation.effective_precision,
                reference_in_force(guidance, relation.effective_on),
                f"{guidance.reference} {RelationType(relation.type).label} "
                f"{relation.target.reference}.",
                related=relation.target.reference,
            )
        )
    for relation in guidance.replaced_by:
        label = RelationType(relation.type).inverse_label
        events.append(
            event(
                REPLACED_BY[relation.type],
                relation.effective_on,
                relation.effective_precision,
                reference_in_force(guidance, relation.effective_on),
                relation.note or f"{guidance.reference} {label} {relation.source.reference}.",
                related=relation.source.reference,
            )
        )
    if guidance.status_enum.is_withdrawn:
        events.append(
            event(
                guidance.status,
                status_since(guidance),
                "day",
                guidance.reference,
                guidance.status_explanation,
            )
        )
    # Undated events (a replacement whose date NICE does not give) come last.
    return sorted(events, key=lambda e: (e["date"] is None, (e["date"] or {}).get("date", "")))


def status_since(guidance):
    """The day the document took its present status, from its recorded states."""
    since = None
    for row in guidance.history.order_by("history_date", "history_id"):
        if row.status != guidance.status:
            since = None
        elif since is None:
            since = row.history_date
    return since.date() if since else None


def changes_since(request, since):
    """The changes after a cursor to documents the public sees, whole changes, oldest first."""
    batch = list(
        ChangeSet.objects.filter(sequence__gt=since)
        .order_by("sequence")
        .values("id", "sequence", "created_at", "kind")[:CHANGES_PER_PAGE]
    )
    touched = {change["id"]: {} for change in batch}
    for model, column, part in PARTS:
        rows = model.history.filter(change_set_id__in=touched).values_list("change_set_id", column)
        for change_id, guidance_id in rows:
            touched[change_id].setdefault(guidance_id, set()).add(part)
    codes = dict(Programme.objects.values_list("id", "code"))
    programmes = {change["id"]: set() for change in batch}
    for model, column in PROGRAMME_PARTS:
        rows = model.history.filter(change_set_id__in=touched).values_list("change_set_id", column)
        for change_id, programme_id in rows:
            if programme_id in codes:
                programmes[change_id].add(codes[programme_id])
    documents = public_documents(request, {g for parts in touched.values() for g in parts})
    changes = []
    for change in batch:
        guidance = [
            {**documents[g]["summary"], "parts": sorted(parts)}
            for g, parts in touched[change["id"]].items()
            if g in documents and change["sequence"] >= documents[g]["public_from"]
        ]
        if guidance or programmes[change["id"]]:
            changes.append(
                {
                    "cursor": str(change["sequence"]),
                    "changed_at": change["created_at"].isoformat(),
                    "kind": change["kind"] or None,
                    "guidance": sorted(guidance, key=lambda g: g["reference"]),
                    "programmes": sorted(programmes[change["id"]]),
                }
            )
    cursor = batch[-1]["sequence"] if batch else since
    more = len(batch) == CHANGES_PER_PAGE
    url = reverse("api:changes")
    return {
        "changes": changes,
        "cursor": str(cursor),
        "more": more,
        "next": request.build_absolute_uri(f"{url}?{urlencode({'since': cursor})}"),
    }


def public_documents(request, ids):
    """For the public documents among ids: what the feed says of each, and the first change
    at which it was public (changes made while it was a draft are not told).
    """
    first_public = dict(
        Guidance.history.filter(id__in=ids)
        .exclude(status=GuidanceStatus.DRAFT)
        .values("id")
        .annotate(first=Min("change_set__sequence"))
        .values_list("id", "first")
    )
    documents = {}
    for guidance in Guidance.objects.published().filter(pk__in=first_public):
        documents[guidance.pk] = {
            "public_from": first_public[guidance.pk],
            "summary": {
                "reference": guidance.reference,
                "status": guidance.status,
                "is_stub": guidance.is_stub,
                "api_url": request.build_absolute_uri(
                    reverse("api:guidance", args=[guidance.reference.lower()])
                ),
            },
        }
    return documents
