"""What auditors read: a document's timeline, the page as it stood, and diffs between points.

Everything here is rebuilt from the history tables. A moment in a document's life is chosen
at a change boundary: every history row of one change carries the change's start time as
its ``history_date``, so a change is either wholly before a moment or wholly after it.
"""

import datetime
import functools
import uuid
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ..models import (
    EDITION_WORKFLOW_FIELDS,
    Block,
    ChangeSet,
    Chapter,
    Endorsement,
    Guidance,
    GuidanceStatus,
    Organisation,
    Programme,
    Relation,
    RelationType,
    ResponsibilityStatement,
    UpdateEntry,
    format_date,
)
from ..wording import word_diff

TIMELINE_PER_PAGE = 25


# Which changes belong to a document ---------------------------------------------------


def document_family(guidance):
    """Ids of a document and of the references ever migrated into it."""
    former = (
        Relation.history.filter(type=RelationType.MIGRATED_TO, target_id=guidance.pk)
        .order_by()
        .values_list("source_id", flat=True)
        .distinct()
    )
    return [guidance.pk, *sorted(set(former) - {guidance.pk})]


def _touching(ids):
    """Conditions on history rows that make them part of the documents with these ids.

    A programme's name and its "Your responsibility" text are on every page of its
    documents: a change to them is part of every document the programme ever held.
    """
    programmes = Guidance.history.filter(id__in=ids).values("programme_id")
    return [
        # A programme's creation is no change to a page; its renaming is.
        (Programme, Q(id__in=programmes, history_type="~")),
        (ResponsibilityStatement, Q(programme_id__in=programmes)),
        (Guidance, Q(id__in=ids)),
        (Chapter, Q(guidance_id__in=ids)),
        (Block, Q(guidance_id__in=ids)),
        (Endorsement, Q(guidance_id__in=ids)),
        (UpdateEntry, Q(guidance_id__in=ids)),
        (Relation, Q(source_id__in=ids) | Q(target_id__in=ids)),
    ]


def deleted_document(reference):
    """A deleted document (a draft never published) as its last history row kept it, or None.

    The record carries deleted_at: when it was deleted.
    """
    row = (
        Guidance.history.filter(reference=reference)
        .exclude(id__in=Guidance.objects.values("pk"))
        .order_by("-history_id")
        .first()
    )
    if row is None:
        return None
    document = row.instance
    document.deleted_at = row.history_date if row.history_type == "-" else None
    return document


def deleted_documents():
    """(reference, when deleted) of every deleted document, the latest first."""
    return list(
        Guidance.history.filter(history_type="-")
        .exclude(id__in=Guidance.objects.values("pk"))
        .order_by("-history_id")
        .values_list("reference", "history_date")
    )


def history_of(ids):
    """(history model, condition on its rows) for every part of the documents with these ids."""
    return _touching(ids)


def touching(ids):
    """A condition on changes: those that wrote one of these documents or anything in them."""
    condition = Q(guidance_id__in=ids)
    for model, rows in _touching(ids):
        condition |= Q(id__in=model.history.filter(rows).values("change_set_id"))
    return condition


def changes_touching(ids):
    return ChangeSet.objects.filter(touching(ids))


# Labels a reader recognises ------------------------------------------------------------


def _quote(text, length=60):
    text = " ".join((text or "").split())
    return f"'{text[: length - 1]}…'" if len(text) > length else f"'{text}'"


def block_label(block):
    kind = Block.Kind(block.kind)
    if block.number:
        return f"{kind.label} {block.number}"
    if kind == Block.Kind.RATIONALE and block.title:
        return f"rationale {_quote(block.title)}"
    return f"{kind.label} {_quote(block.text, 40)}"


def chapter_label(chapter):
    return f"chapter {chapter.number} {chapter.title}" if chapter.number else chapter.title


def relation_label(relation, references):
    source = references.get(relation.source_id, f"#{relation.source_id}")
    target = references.get(relation.target_id, f"#{relation.target_id}")
    return f"relation: {source} {RelationType(relation.type).label} {target}"


def guidance_label(row, document_id):
    return "document" if row.id == document_id else f"former reference {row.reference}"


ACTIONS = {"+": "added", "~": "changed", "-": "removed"}


def parts_touched(change_ids, ids, document_id):
    """{change id: [what it did, e.g. 'recommendation 1.1 changed']}, a fixed number of queries."""
    touched = {change_id: [] for change_id in change_ids}
    programmes = {}
    relations = []
    for model, rows in _touching(ids):
        history = model.history.filter(rows, change_set_id__in=change_ids).order_by("history_id")
        for row in history:
            if model is Relation:
                relations.append(row)
                continue
            if model is Guidance:
                label = guidance_label(row, document_id)
            elif model is Chapter:
                label = chapter_label(row)
            elif model is Block:
                label = block_label(row)
            elif model is Endorsement:
                label = "endorsement"
            elif model is Programme:
                label = f"programme {row.code} ({row.name})"
            elif model is ResponsibilityStatement:
                programmes = programmes or dict(Programme.objects.values_list("pk", "code"))
                label = f"'Your responsibility' of programme {programmes[row.programme_id]}"
            else:
                label = f"update information ({format_date(row.date, row.precision)})"
            touched[row.change_set_id].append(f"{label} {ACTIONS[row.history_type]}")
    references = dict(
        Guidance.objects.filter(
            pk__in={r.source_id for r in relations} | {r.target_id for r in relations}
        ).values_list("pk", "reference")
    )
    for row in relations:
        label = relation_label(row, references)
        touched[row.change_set_id].append(f"{label} {ACTIONS[row.history_type]}")
    return {change_id: _collapse(labels) for change_id, labels in touched.items()}


def _collapse(labels):
    # A change that writes a row twice (create, then save) lists it once.
    seen = []
    for label in labels:
        if label not in seen:
            seen.append(label)
    return seen


@dataclass
class TimelineEntry:
    change: ChangeSet
    touched: list


def timeline(guidance, page_number=1):
    """One page of a document's changes, newest first, each with what it touched."""
    ids = document_family(guidance)
    changes = (
        changes_touching(ids)
        .select_related("user", "guidance")
        .defer("row_hashes")
        .order_by("-sequence")
    )
    page = Paginator(changes, TIMELINE_PER_PAGE).get_page(page_number)
    touched = parts_touched([change.id for change in page], ids, guidance.pk)
    page.entries = [TimelineEntry(change, touched[change.id]) for change in page]
    return page


# The audit log across all documents ---------------------------------------------------


def _start_of_day(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def audit_log(
    *, user=None, start=None, end=None, programme=None, guidance=None, kind=None, source=None
):
    """Changes across all documents, newest first, narrowed by whichever filters are given.

    kind is 'major', 'minor' or 'none' (changes recorded as neither).
    """
    changes = ChangeSet.objects.select_related("user", "guidance").defer("row_hashes")
    if user is not None:
        changes = changes.filter(user=user)
    # The dates are of when changes took effect: those that took effect when recorded (every
    # change before effective dates were kept) by the time they were recorded.
    if start is not None:
        since = _start_of_day(start)
        changes = changes.filter(
            Q(effective_at__gte=since) | Q(effective_at__isnull=True, created_at__gte=since)
        )
    if end is not None:
        until = _start_of_day(end + datetime.timedelta(days=1))
        changes = changes.filter(
            Q(effective_at__lt=until) | Q(effective_at__isnull=True, created_at__lt=until)
        )
    if programme is not None:
        changes = changes.filter(guidance__programme=programme)
    if guidance is not None:
        changes = changes.filter(touching(document_family(guidance)))
    if kind:
        changes = changes.filter(kind="" if kind == "none" else kind)
    if source:
        changes = changes.filter(source=source)
    return changes.order_by("-sequence")


CSV_HEADER = [
    "sequence",
    "recorded at",
    "took effect",
    "effective precision",
    "user",
    "reason",
    "kind",
    "source",
    "document",
    "digest",
]


def _cell(value):
    # A spreadsheet would run a cell starting with one of these as a formula.
    value = str(value)
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_rows(changes):
    """The audit log as CSV rows, streamed."""
    yield CSV_HEADER
    for change in changes.iterator(chunk_size=2000):
        yield [
            change.sequence,
            change.created_at.isoformat(),
            change.took_effect_at.isoformat(),
            change.effective_precision if change.effective_at else "exact",
            _cell(change.user.get_username()),
            _cell(change.reason),
            change.kind,
            change.source,
            change.guidance.reference if change.guidance else "",
            change.digest,
        ]


# Moments ---------------------------------------------------------------------------------


@dataclass
class Moment:
    """A point in history: just after a change (or just before it), or a date and time."""

    at: datetime.datetime
    inclusive: bool = True
    change: ChangeSet | None = None

    def __str__(self):
        local = timezone.localtime(self.at)
        when = f"{local.day} {local:%B %Y at %H:%M:%S}"
        if self.change is None:
            return when
        side = "after" if self.inclusive else "before"
        return f"{when}, just {side} change {self.change.sequence}"

    def rows(self, history):
        """The history rows of a queryset that were written by this moment."""
        if self.inclusive:
            return history.filter(history_date__lte=self.at)
        return history.filter(history_date__lt=self.at)


class BadMoment(ValueError):
    pass


def parse_moment(value, *, before=False):
    """A moment from a change (id or number; just after it, or before it if before=True) or a date.

    A date alone means the end of that day, local time.
    """
    value = (value or "").strip()
    if not value:
        raise BadMoment("Give a change number or id, a date (2026-01-31) or a date and time.")
    try:
        change_id = uuid.UUID(value)
    except ValueError:
        change_id = None
    if change_id is not None or value.isdigit():
        # A change is named by its id or by its number in the chain.
        lookup = {"pk": change_id} if change_id is not None else {"sequence": int(value)}
        change = ChangeSet.objects.filter(**lookup).select_related("user").first()
        if change is None:
            raise BadMoment(f"There is no change {value}.")
        return Moment(change.created_at, inclusive=not before, change=change)
    try:
        # parse_datetime() reads a date alone as its midnight: read it as a date first.
        day = parse_date(value)
        at = None if day else parse_datetime(value)
    except ValueError:
        at = day = None
    if day is not None:
        at = datetime.datetime.combine(day, datetime.time.max)
    if at is None:
        raise BadMoment(
            f"{value!r} is neither a change nor a date: use a change number such as 42, "
            "a date such as 2026-01-31 or a date and time such as 2026-01-31T14:30."
        )
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return Moment(at)


# The document as it stood ---------------------------------------------------------------


def _state(history, moment):
    """Live-model instances as they stood at the moment (deleted rows left out).

    simple-history's as_of(), except that a row written twice within one change (both rows
    carry the change's time) counts once, as its last write, even when that was its deletion.
    """
    rows = moment.rows(history).latest_of_each().order_by("history_date", "history_id")
    latest = {row.id: row for row in rows}
    return [row.instance for row in latest.values() if row.history_type != "-"]


class Replay:
    """A document's history read once and replayed at each moment asked for.

    An evidence pack rebuilds its document before and after each of its changes: with a
    replay, each set of rows as_it_stood reads is read once, whole, under the name it is asked
    by, and each moment takes from it in memory what _state would take from the database.
    """

    def __init__(self):
        self.rows = {}

    @functools.cached_property
    def programmes_now(self):
        return list(Programme.objects.all())

    def state(self, name, history, moment):
        if name not in self.rows:
            self.rows[name] = list(history.order_by("history_date", "history_id"))
        written = [
            row
            for row in self.rows[name]
            if row.history_date < moment.at or (moment.inclusive and row.history_date == moment.at)
        ]
        # As latest_of_each: every row of an id written at its latest time, in _state's order.
        newest = {row.id: row.history_date for row in written}
        latest = {row.id: row for row in written if row.history_date == newest[row.id]}
        return [row.instance for row in latest.values() if row.history_type != "-"]


def _read(replay, name, history, moment):
    """Live-model instances as they stood at the moment, from the replay if there is one."""
    if replay is None:
        return _state(history, moment)
    return replay.state(name, history, moment)


@dataclass
class Snapshot:
    """A document as it stood at a moment, shaped like the live records the pages read."""

    moment: Moment
    guidance: Guidance
    sections: list  # (chapter, its blocks), in order
    endorsements: list
    update_entries: list
    responsibility: ResponsibilityStatement | None
    others: dict = field(default_factory=dict)
    # Set when rebuilt from the document's own statements (as_stated): its first record.
    recorded_from: Moment | None = None

    @property
    def major_entries(self):
        return [e for e in self.update_entries if e.kind == "major"]

    @property
    def minor_entries(self):
        return [e for e in self.update_entries if e.kind == "minor"]


def as_it_stood(guidance_id, moment, replay=None):
    """Rebuild a document, its parts, relations and notices as they were at a moment.

    Returns None if the document did not exist yet (or no longer did). A Replay reads each
    part's history once for many moments.
    """
    found = _read(replay, "document", Guidance.history.filter(id=guidance_id), moment)
    if not found:
        return None
    document = found[0]
    # Programmes loaded before history began are read as they are now.
    programmes = {p.pk: p for p in (replay.programmes_now if replay else Programme.objects.all())}
    programmes |= {p.pk: p for p in _read(replay, "programmes", Programme.history.all(), moment)}
    relations = _read(
        replay,
        "relations",
        Relation.history.filter(Q(source_id=guidance_id) | Q(target_id=guidance_id)),
        moment,
    )
    other_ids = sorted({r.source_id for r in relations} | {r.target_id for r in relations})
    others = {
        g.pk: g
        for g in _read(
            replay, ("others", *other_ids), Guidance.history.filter(id__in=other_ids), moment
        )
    }
    others[document.pk] = document
    for record in others.values():
        record.programme = programmes[record.programme_id]
    # As on the public page: only relations whose other end was public at the time.
    relations = [
        r
        for r in relations
        if r.source_id in others
        and r.target_id in others
        and GuidanceStatus(others[r.source_id].status).is_public
        and GuidanceStatus(others[r.target_id].status).is_public
    ]
    for relation in relations:
        relation.source = others[relation.source_id]
        relation.target = others[relation.target_id]
    relations.sort(key=lambda r: (r.position, r.pk))
    # Where the public pages' helpers (Guidance.replaced_by, .migration, ...) read them.
    for record in others.values():
        record.public_relations = [r for r in relations if r.source is record]
        record.public_inverse_relations = [r for r in relations if r.target is record]

    chapters = sorted(
        _read(replay, "chapters", Chapter.history.filter(guidance_id=guidance_id), moment),
        key=lambda c: c.position,
    )
    blocks = sorted(
        _read(replay, "blocks", Block.history.filter(guidance_id=guidance_id), moment),
        key=lambda b: b.position,
    )
    sections = []
    for chapter in chapters:
        chapter.guidance = document
        sections.append((chapter, [b for b in blocks if b.chapter_id == chapter.pk]))
    for block in blocks:
        block.guidance = document
    endorsements = _read(
        replay, "endorsements", Endorsement.history.filter(guidance_id=guidance_id), moment
    )
    organisation_ids = sorted({e.organisation_id for e in endorsements})
    organisations = {
        o.pk: o
        for o in _read(
            replay,
            ("organisations", *organisation_ids),
            Organisation.history.filter(id__in=organisation_ids),
            moment,
        )
    }
    for endorsement in endorsements:
        endorsement.organisation = organisations[endorsement.organisation_id]
        endorsement.guidance = document
    endorsements.sort(key=lambda e: e.organisation.name)
    update_entries = sorted(
        _read(replay, "updates", UpdateEntry.history.filter(guidance_id=guidance_id), moment),
        key=lambda e: e.position,
    )
    return Snapshot(
        moment=moment,
        guidance=document,
        sections=sections,
        endorsements=endorsements,
        update_entries=update_entries,
        responsibility=_responsibility(document.programme_id, moment, replay),
        others=others,
    )


# Before the record: what the document states ------------------------------------------


@dataclass
class StatedEvent:
    """An event the document's own text states, from before the registry recorded it."""

    date: datetime.date
    precision: str
    what: str

    @property
    def date_display(self):
        return format_date(self.date, self.precision)


def first_recorded(guidance_id):
    """The document as its first recorded change left it (a Snapshot), or None."""
    first_row = Guidance.history.filter(id=guidance_id).order_by("history_id").first()
    if first_row is None:
        return None
    change = ChangeSet.objects.select_related("user").get(pk=first_row.change_set_id)
    return as_it_stood(guidance_id, Moment(change.created_at, change=change))


def _stated_migrations(snapshot):
    return [
        relation
        for relation in snapshot.guidance.public_inverse_relations
        if relation.type == RelationType.MIGRATED_TO and relation.effective_on
    ]


def stated_events(guidance):
    """What the document, as first recorded, says happened before it was recorded; oldest first.

    Reads only the first recorded rows it needs (a few queries), not the whole snapshot.
    """
    first_row = Guidance.history.filter(id=guidance.pk).order_by("history_id").first()
    if first_row is None:
        return []
    moment = Moment(first_row.history_date)
    document = _state(Guidance.history.filter(id=guidance.pk), moment)[0]
    recorded_on = timezone.localtime(moment.at).date()
    migrations = [
        relation
        for relation in _state(
            Relation.history.filter(target_id=guidance.pk, type=RelationType.MIGRATED_TO), moment
        )
        if relation.effective_on
    ]
    sources = Guidance.objects.select_related("programme").in_bulk(
        [relation.source_id for relation in migrations]
    )
    events = []
    if document.published_on:
        reference, programme = document.reference, document.programme
        for relation in migrations:
            if relation.effective_on > document.published_on:
                reference = sources[relation.source_id].reference
                programme = sources[relation.source_id].programme
        events.append(
            StatedEvent(
                document.published_on,
                document.published_precision,
                f"Published as {reference} ({programme.name})",
            )
        )
    for relation in migrations:
        what = f"{sources[relation.source_id].reference} migrated to {document.reference}"
        events.append(StatedEvent(relation.effective_on, relation.effective_precision, what))
    for entry in _state(UpdateEntry.history.filter(guidance_id=guidance.pk), moment):
        what = f"{entry.get_kind_display()}: {entry.text}"
        events.append(StatedEvent(entry.date, entry.precision, what))
    events.sort(key=lambda event: event.date)
    return [event for event in events if event.date and event.date <= recorded_on]


def as_stated(guidance_id, moment):
    """The document before its first recorded change, reconstructed from its own statements.

    The text is as first recorded; the reference and programme are those the document says it
    had on that day (before a migration it states), and update information dated later is left
    out. None if the moment is not before the record began, or before the stated publication.
    """
    snapshot = first_recorded(guidance_id)
    if snapshot is None or moment.at >= snapshot.moment.at:
        return None
    on = timezone.localtime(moment.at).date()
    document = snapshot.guidance
    if document.published_on is None or document.published_on > on:
        return None
    for relation in _stated_migrations(snapshot):
        if relation.effective_on > on:
            former = relation.source
            document.reference, document.number = former.reference, former.number
            document.programme, document.programme_id = former.programme, former.programme_id
            document.public_inverse_relations.remove(relation)
            former.public_relations.remove(relation)
    snapshot.update_entries = [e for e in snapshot.update_entries if e.date and e.date <= on]
    majors = [e for e in snapshot.update_entries if e.kind == "major"]
    if document.last_updated_on and document.last_updated_on > on:
        latest = max(majors, key=lambda e: e.date, default=None)
        document.last_updated_on = latest.date if latest else None
        document.last_updated_precision = latest.precision if latest else ""
    snapshot.responsibility = _responsibility(document.programme_id, snapshot.moment)
    snapshot.recorded_from = snapshot.moment
    snapshot.moment = moment
    return snapshot


def _responsibility(programme_id, moment, replay=None):
    statements = _read(
        replay,
        ("responsibility", programme_id),
        ResponsibilityStatement.history.filter(programme_id=programme_id),
        moment,
    )
    on = timezone.localtime(moment.at).date()
    in_force = [s for s in statements if s.applies_from <= on]
    return max(in_force, key=lambda s: s.applies_from, default=None)


# Differences ---------------------------------------------------------------------------


@dataclass
class FieldChange:
    name: str
    old: str
    new: str
    html: str = ""
    phrases: list = field(default_factory=list)


@dataclass
class PartChange:
    label: str
    action: str  # added, removed or changed
    fields: list

    @property
    def summary(self):
        """One line a reader can take in, e.g. "recommendation 1.1: 'x' → 'y'"."""
        if self.action != "changed":
            return f"{self.label} {self.action}"
        pieces = []
        for change in self.fields:
            if change.phrases:
                pieces += [f"'{old}' → '{new}'" for old, new in change.phrases]
            else:
                pieces.append(f"{change.name} '{change.old}' → '{change.new}'")
        return f"{self.label}: " + "; ".join(pieces)


TEXT_FIELDS = {"title", "summary", "text", "bullets", "public explanation", "statement", "note"}

# The number is part of the reference; the version counts saves.
# The number is shown with the reference; a draft edition's review workflow is not what the
# document says.
DOCUMENT_FIELDS_NOT_COMPARED = {"id", "number", "version", *EDITION_WORKFLOW_FIELDS}
# How a field is shown where its value alone would not read well.
DOCUMENT_FIELD_DISPLAY = {"programme": lambda record: record.programme.code}


def compared_document_fields():
    """The fields of Guidance the diff compares, in the model's order.

    A date's precision is shown with the date ('published: January 2026'), not on its own.
    """
    fields = Guidance._meta.concrete_fields
    fields = [f for f in fields if f.name not in DOCUMENT_FIELDS_NOT_COMPARED]
    with_a_date = {
        f.name.removesuffix("_on") + "_precision" for f in fields if isinstance(f, models.DateField)
    }
    return [f for f in fields if f.name not in with_a_date]


def _document_field_value(record, field):
    if field.name in DOCUMENT_FIELD_DISPLAY:
        return DOCUMENT_FIELD_DISPLAY[field.name](record)
    if isinstance(field, models.DateField):
        precision = getattr(record, field.name.removesuffix("_on") + "_precision", "") or "day"
        return format_date(getattr(record, field.attname), precision)
    if field.choices:
        return getattr(record, f"get_{field.name}_display")()
    if isinstance(field, models.BooleanField):
        return "yes" if getattr(record, field.attname) else "no"
    if field.is_relation:
        return str(getattr(record, field.name) or "")
    return getattr(record, field.attname)


def _document_fields(record):
    """{label: value} of every compared field of a document, labelled by its verbose name."""
    return {
        str(field.verbose_name): _document_field_value(record, field)
        for field in compared_document_fields()
    }


def parts_of(snapshot):
    """{key: (order, label, {field: value})} for every part of a document as it stood."""
    if snapshot is None:
        return {}
    document = snapshot.guidance
    parts = {("guidance", document.pk): ((0,), "document", _document_fields(document))}
    parts[("programme",)] = ((0, 1), "programme", {"name": document.programme.name})
    if snapshot.responsibility is not None:
        parts[("responsibility",)] = (
            (0, 2),
            "'Your responsibility'",
            {"text": snapshot.responsibility.text},
        )
    references = {pk: record.reference for pk, record in snapshot.others.items()}
    for record in snapshot.others.values():
        if record.pk != document.pk and any(
            r.type == RelationType.MIGRATED_TO for r in record.public_relations
        ):
            label = f"former reference {record.reference}"
            parts[("guidance", record.pk)] = ((1, record.pk), label, _document_fields(record))
    relations = {r.pk: r for r in document.public_relations} | {
        r.pk: r for r in document.public_inverse_relations
    }
    for relation in relations.values():
        parts[("relation", relation.pk)] = (
            (2, relation.position, relation.pk),
            relation_label(relation, references),
            {
                "type": RelationType(relation.type).label,
                "from": relation.source.reference,
                "to": relation.target.reference,
                "effective": format_date(relation.effective_on, relation.effective_precision),
                "note": relation.note,
            },
        )
    for chapter, blocks in snapshot.sections:
        parts[("chapter", chapter.pk)] = (
            (3, chapter.position, 0),
            chapter_label(chapter),
            {"number": chapter.number, "title": chapter.title, "position": str(chapter.position)},
        )
        for block in blocks:
            parts[("block", block.pk)] = (
                (3, chapter.position, 1, block.position),
                block_label(block),
                {
                    "kind": Block.Kind(block.kind).label,
                    "number": block.number,
                    "title": block.title,
                    "text": block.text,
                    "bullets": "\n".join(f"• {bullet}" for bullet in block.bullets or []),
                    "category": block.category,
                    "chapter": chapter_label(chapter),
                    "position": str(block.position),
                },
            )
    for endorsement in snapshot.endorsements:
        parts[("endorsement", endorsement.pk)] = (
            (4, endorsement.organisation.name),
            f"endorsement by {endorsement.organisation.name}",
            {"organisation": endorsement.organisation.name, "statement": endorsement.statement},
        )
    for entry in snapshot.update_entries:
        parts[("update", entry.pk)] = (
            (5, entry.position),
            f"update information ({entry.date_display})",
            {
                "date": entry.date_display,
                "kind": entry.get_kind_display(),
                "text": entry.text,
                "position": str(entry.position),
            },
        )
    return parts


def diff(before, after):
    """The part-by-part differences between two snapshots (either may be None), in page order."""
    old_parts, new_parts = parts_of(before), parts_of(after)
    keys = sorted(
        set(old_parts) | set(new_parts), key=lambda key: (new_parts.get(key) or old_parts[key])[0]
    )
    changes = []
    for key in keys:
        if key not in old_parts:
            _, label, values = new_parts[key]
            fields = [FieldChange(n, "", v) for n, v in values.items() if v]
            changes.append(PartChange(label, "added", fields))
        elif key not in new_parts:
            _, label, values = old_parts[key]
            fields = [FieldChange(n, v, "") for n, v in values.items() if v]
            changes.append(PartChange(label, "removed", fields))
        else:
            old_values, (_, label, new_values) = old_parts[key][2], new_parts[key]
            fields = [
                _field_change(name, old_values.get(name, ""), value)
                for name, value in new_values.items()
                if old_values.get(name, "") != value
            ]
            if fields:
                changes.append(PartChange(old_parts[key][1], "changed", fields))
    return changes


def _field_change(name, old, new):
    change = FieldChange(name, old, new)
    if name in TEXT_FIELDS and old and new:
        change.html, change.phrases = word_diff(old, new)
    return change
