"""Draft editions: published guidance changes through a copy that goes live when published.

A draft edition is a Guidance row (edition_of = the published document) with copies of the
document's chapters, blocks, endorsements and update entries. Every query of documents
(Guidance.objects) leaves it out, so the public pages, search, feed, sitemap, the page cache and
the importer see only the published edition. Publishing applies the draft to the published
records in one recorded change, matching each part by its key, then removes the draft.

The review steps (submit, send back, schedule, publish) work the same for a draft edition and
for a new document that was never published.
"""

import datetime
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .history import bulk_create_with_history, recording
from .models import (
    Block,
    ChangeKind,
    ChangeSet,
    Chapter,
    DatePrecision,
    Endorsement,
    Guidance,
    GuidanceStatus,
    RefusedChange,
    ReviewState,
    UpdateEntry,
    format_date,
)
from .wording import word_diff

# What a draft edition may change of the document record; status, reference and relations
# change through their own workflows, on the published document.
EDITION_FIELDS = (
    "title",
    "summary",
    "is_stub",
    "published_on",
    "published_precision",
    "isbn",
    "minor_changes_heading",
)
CHAPTER_FIELDS = ("position", "number", "title", "slug")
BLOCK_FIELDS = ("position", "kind", "number", "title", "text", "bullets", "category")
UPDATE_FIELDS = ("position", "date", "precision", "kind", "text")
# A part being moved waits out of the way here, so that no two parts ever share a place.
PARKED = 1_000_000


def draft_of(document):
    """The draft edition of a published document, or None."""
    return Guidance.with_editions.filter(edition_of=document).first()


def may_have_edition(document):
    """Whether saves of this record go to a draft edition (it is public and not one itself)."""
    return not document.is_edition and GuidanceStatus(document.status).is_public


def _give_keys(rows):
    """Give parts older than keys their key, saving each (so that history records it)."""
    for row in rows:
        if row.key is None:
            row.key = uuid.uuid4()
            row.save(update_fields=["key"])
    return rows


def start_edition(*, document, user, reason=""):
    """Copy a published document's record and parts into its draft edition and return it."""
    reason = reason or f"Started a draft edition of {document.reference}"
    with recording(user=user, reason=reason, source=ChangeSet.Source.DRAFT, guidance=document):
        document = Guidance.objects.select_for_update().get(pk=document.pk)
        if not may_have_edition(document):
            raise RefusedChange(f"{document.reference} is not published: edit it as it is.")
        if (existing := draft_of(document)) is not None:
            return existing
        edition = Guidance(
            reference=document.reference,
            programme=document.programme,
            number=document.number,
            status=GuidanceStatus.DRAFT,
            status_explanation=document.status_explanation,
            last_updated_on=document.last_updated_on,
            last_updated_precision=document.last_updated_precision,
            version=document.version,
            edition_of=document,
            **{name: getattr(document, name) for name in EDITION_FIELDS},
        )
        edition.save()
        chapters = {}
        for chapter in _give_keys(document.chapters.order_by("position")):
            chapters[chapter.pk] = Chapter.objects.create(
                guidance=edition,
                key=chapter.key,
                **{name: getattr(chapter, name) for name in CHAPTER_FIELDS},
            )
        blocks = _give_keys(Block.objects.filter(guidance=document).order_by("pk"))
        bulk_create_with_history(
            [
                Block(
                    guidance=edition,
                    chapter=chapters[block.chapter_id],
                    key=block.key,
                    **{name: getattr(block, name) for name in BLOCK_FIELDS},
                )
                for block in blocks
            ],
            Block,
        )
        for endorsement in document.endorsements.all():
            Endorsement.objects.create(
                guidance=edition,
                organisation_id=endorsement.organisation_id,
                statement=endorsement.statement,
            )
        for entry in _give_keys(document.update_entries.order_by("position")):
            UpdateEntry.objects.create(
                guidance=edition,
                key=entry.key,
                **{name: getattr(entry, name) for name in UPDATE_FIELDS},
            )
    return edition


def _differs(row, values):
    return any(getattr(row, name) != value for name, value in values.items())


def _apply_parts(current, wanted, fields, *, parked, make, extra=lambda part: {}):
    """Bring the rows `current` ({key: row}) to the parts `wanted` (rows of the edition).

    Rows the edition no longer has are deleted; rows whose place changes wait out of the way
    first, so that a renumbering or a move never makes two rows share a place.
    """
    wanted_keys = {part.key for part in wanted}
    for key, row in current.items():
        if key not in wanted_keys:
            row.delete()
    changes = []
    for part in wanted:
        values = {name: getattr(part, name) for name in fields} | extra(part)
        row = current.get(part.key)
        if row is None:
            make(part, values)
        elif _differs(row, values):
            changes.append((row, values))
    for index, (row, _values) in enumerate(changes):
        for name, value in parked(row, index).items():
            setattr(row, name, value)
        row.save()
    for row, values in changes:
        for name, value in values.items():
            setattr(row, name, value)
        row.save()


def publish_edition(*, edition, user, reason):
    """Apply a draft edition to its published document in one change, then remove the draft.

    The document keeps its id, reference, status and relations; each chapter, block and update
    entry keeps its id where its key matches. A major draft's update information is added, and
    'Last updated' set, as of the day it is published.
    """
    edition = Guidance.with_editions.select_related("edition_of").get(pk=edition.pk)
    kind = ChangeKind.MAJOR if edition.pending_update_text.strip() else ChangeKind.MINOR
    document = edition.edition_of
    with recording(
        user=user,
        reason=reason,
        kind=kind,
        source=ChangeSet.Source.PUBLICATION,
        guidance=document,
    ):
        document = Guidance.objects.select_for_update().get(pk=document.pk)
        edition = Guidance.with_editions.select_for_update().get(pk=edition.pk)
        for name in EDITION_FIELDS:
            setattr(document, name, getattr(edition, name))
        document.version += 1
        document.save()
        _apply_chapters(document, edition)
        _apply_blocks(document, edition)
        _apply_endorsements(document, edition)
        _apply_parts(
            {entry.key: entry for entry in document.update_entries.all()},
            list(edition.update_entries.order_by("position")),
            UPDATE_FIELDS,
            parked=lambda row, index: {"position": PARKED + index},
            make=lambda part, values: UpdateEntry.objects.create(
                guidance=document, key=part.key, **values
            ),
        )
        if kind == ChangeKind.MAJOR:
            add_major_update(document, text=edition.pending_update_text.strip())
            document.save()
        edition.delete()
    return document


def _apply_chapters(document, edition):
    _apply_parts(
        {chapter.key: chapter for chapter in document.chapters.all()},
        list(edition.chapters.order_by("position")),
        CHAPTER_FIELDS,
        parked=lambda row, index: {"position": PARKED + index, "slug": f"moving-{row.key}"},
        make=lambda part, values: Chapter.objects.create(guidance=document, key=part.key, **values),
    )


def _apply_blocks(document, edition):
    chapters = {chapter.key: chapter for chapter in document.chapters.all()}
    _apply_parts(
        {block.key: block for block in Block.objects.filter(guidance=document)},
        list(Block.objects.filter(guidance=edition).select_related("chapter")),
        BLOCK_FIELDS,
        parked=lambda row, index: {"position": PARKED + index, "number": ""},
        make=lambda part, values: Block.objects.create(guidance=document, key=part.key, **values),
        extra=lambda part: {"chapter": chapters[part.chapter.key]},
    )


def _apply_endorsements(document, edition):
    current = {e.organisation_id: e for e in document.endorsements.all()}
    wanted = {e.organisation_id: e for e in edition.endorsements.all()}
    for organisation_id, endorsement in current.items():
        if organisation_id not in wanted:
            endorsement.delete()
    for organisation_id, endorsement in wanted.items():
        row = current.get(organisation_id)
        if row is None:
            Endorsement.objects.create(
                guidance=document,
                organisation_id=organisation_id,
                statement=endorsement.statement,
            )
        elif row.statement != endorsement.statement:
            row.statement = endorsement.statement
            row.save()


def add_major_update(document, *, text, on=None):
    """Record a major change as published: 'Last updated' and its update-information entry."""
    on = on or timezone.localdate()
    document.last_updated_on = on
    document.last_updated_precision = DatePrecision.DAY
    last = max((entry.position for entry in document.update_entries.all()), default=0)
    return UpdateEntry.objects.create(
        guidance=document,
        position=last + 1,
        date=on.replace(day=1),
        precision=DatePrecision.MONTH,
        kind=ChangeKind.MAJOR,
        text=text,
    )


# Review ----------------------------------------------------------------------------------


def _draft_for_review(draft):
    draft = Guidance.with_editions.select_for_update().get(pk=draft.pk)
    if draft.status != GuidanceStatus.DRAFT:
        raise RefusedChange(f"{draft.reference} is not a draft: there is nothing to review.")
    return draft


def submit_for_review(*, draft, user, note):
    """An editor asks publishers to publish a draft, with a note for them."""
    with recording(user=user, reason=note, source=ChangeSet.Source.DRAFT, guidance=draft.document):
        draft = _draft_for_review(draft)
        if draft.review_state in (ReviewState.SUBMITTED, ReviewState.SCHEDULED):
            raise RefusedChange(f"{draft.reference} is already {draft.get_review_state_display()}.")
        draft.review_state = ReviewState.SUBMITTED
        draft.review_note = note
        draft.review_comment = ""
        draft.submitted_by = user
        draft.save()
    return draft


def send_back(*, draft, user, comment):
    """A publisher returns a draft to its editor with what to change."""
    with recording(
        user=user, reason=comment, source=ChangeSet.Source.DRAFT, guidance=draft.document
    ):
        draft = _draft_for_review(draft)
        draft.review_state = ReviewState.SENT_BACK
        draft.review_comment = comment
        draft.publish_at = None
        draft.save()
    return draft


def schedule(*, draft, user, reason, publish_at):
    """Approve a draft to go live at a moment; the background worker publishes it then."""
    from .tasks import publish_due_guidance  # noqa: PLC0415 - the task imports this module

    if publish_at <= timezone.now():
        raise RefusedChange("Choose a moment in the future, or publish now.")
    with recording(
        user=user, reason=reason, source=ChangeSet.Source.DRAFT, guidance=draft.document
    ):
        draft = _draft_for_review(draft)
        published_on = draft.published_on
        if published_on and published_on > timezone.localdate(publish_at):
            raise RefusedChange(
                f"Its published date ({draft.published_display}) is after the moment it is "
                "scheduled for: change one of them."
            )
        draft.review_state = ReviewState.SCHEDULED
        draft.publish_at = publish_at
        draft.save()
        transaction.on_commit(lambda: publish_due_guidance.using(run_after=publish_at).enqueue())
    return draft


def publish_draft(*, draft, user, reason):
    """Publish a draft now: apply a draft edition, or make a new document public."""
    if draft.is_edition:
        return publish_edition(edition=draft, user=user, reason=reason)
    return draft.publish(by=user, reason=reason)


def due_for_publication(now=None):
    """Scheduled drafts whose moment has come (or passed, if the worker was down)."""
    return Guidance.with_editions.filter(
        review_state=ReviewState.SCHEDULED, publish_at__lte=now or timezone.now()
    ).order_by("publish_at", "pk")


def publish_due(*, user):
    """Publish every scheduled draft whose moment has come; return their references."""
    published = []
    for draft in due_for_publication():
        approved = draft.history.filter(review_state=ReviewState.SCHEDULED).first()
        who = approved.history_user if approved is not None else None
        reason = f"Scheduled publication for {timezone.localtime(draft.publish_at):%Y-%m-%d %H:%M}"
        if who is not None:
            reason += f", approved by {who.get_username()}"
        try:
            publish_draft(draft=draft, user=user, reason=reason)
        except RefusedChange:
            continue  # It stays scheduled, and overdue in the admin, for a person to see to.
        published.append(draft.reference)
    return published


# What would change ------------------------------------------------------------------------


@dataclass
class Difference:
    label: str
    action: str  # added, removed or changed
    fields: list = field(default_factory=list)  # (name, old, new, html)


def _values(row, names):
    values = {}
    for name in names:
        value = getattr(row, name)
        if isinstance(value, list):
            value = "\n".join(f"• {item}" for item in value)
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        values[name] = "" if value is None else str(value)
    return values


def _compare(label, old, new):
    if old is None:
        return Difference(label, "added", [(n, "", v, "") for n, v in new.items() if v])
    if new is None:
        return Difference(label, "removed", [(n, v, "", "") for n, v in old.items() if v])
    fields = []
    for name, value in new.items():
        before = old.get(name, "")
        if before != value:
            html = word_diff(before, value)[0] if before and value else ""
            fields.append((name, before, value, html))
    return Difference(label, "changed", fields) if fields else None


def _block_label(block):
    return f"{block.get_kind_display()} {block.number}".strip() + f" ({block.chapter.heading})"


def differences(draft):
    """Everything publishing this draft would change on the public page, part by part."""
    document = draft.edition_of
    changes = []

    def add(label, old, new):
        if (change := _compare(label, old, new)) is not None:
            changes.append(change)

    record_fields = (*EDITION_FIELDS, "pending_update_text")
    add(
        "document",
        _values(document, record_fields) if document else None,
        _values(draft, record_fields),
    )
    for model, fields, label in (
        (Chapter, CHAPTER_FIELDS, lambda c: f"chapter {c.heading}"),
        (Block, BLOCK_FIELDS, _block_label),
        (UpdateEntry, UPDATE_FIELDS, lambda e: f"update information ({e.date_display})"),
    ):
        rows = model.objects.select_related(*(["chapter"] if model is Block else []))
        old = {r.key: r for r in rows.filter(guidance=document)} if document else {}
        new = {r.key: r for r in rows.filter(guidance=draft)}
        for key, row in new.items():
            previous = old.get(key)
            values = _values(row, fields)
            if model is Block:
                values["chapter"] = row.chapter.heading
            before = None
            if previous is not None:
                before = _values(previous, fields)
                if model is Block:
                    before["chapter"] = previous.chapter.heading
            add(label(row), before, values)
        for key, row in old.items():
            if key not in new:
                add(label(row), _values(row, fields), None)
    old_endorsements = (
        {e.organisation.name: e for e in document.endorsements.all()} if document else {}
    )
    new_endorsements = {e.organisation.name: e for e in draft.endorsements.all()}
    for name in sorted(old_endorsements.keys() | new_endorsements.keys()):
        before, after = old_endorsements.get(name), new_endorsements.get(name)
        add(
            f"endorsement by {name}",
            {"statement": before.statement} if before else None,
            {"statement": after.statement} if after else None,
        )
    return changes


def published_date_problem(published_on, draft):
    """Why a published date may not be saved (a future one needs a schedule), or ''."""
    if published_on is None or published_on <= timezone.localdate():
        return ""
    if draft.publish_at is not None and published_on <= timezone.localdate(draft.publish_at):
        return ""
    return (
        f"{format_date(published_on, DatePrecision.DAY)} is in the future: nothing is published "
        "early. Leave the date blank (it is set on the day it goes live), or have the "
        "publication scheduled for that day first."
    )
