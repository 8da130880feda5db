"""Workflows that touch several records and must happen whole or not at all.

Each runs inside one recording(): one transaction and one ChangeSet saying who and why.
A check that fails raises RefusedChange before anything is written.
"""

import copy
import csv
import datetime
from dataclasses import dataclass, field

from django.db.models import Max

from ..editions import PARKED
from ..history import bulk_create_with_history, bulk_update_with_history, recording
from ..models import (
    Block,
    ChangeKind,
    ChangeSet,
    Chapter,
    DatePrecision,
    Guidance,
    GuidanceStatus,
    MalformedReference,
    Programme,
    RefusedChange,
    Relation,
    RelationType,
    UpdateEntry,
    split_reference,
)

REPLACING = (RelationType.REPLACES, RelationType.PARTIALLY_REPLACES)
MAX_BULK_ROWS = 5000


def migration_wording(old_programme, old_number, new_programme, new_number):
    """NICE's words for a migration, naming both programmes as the Programme table does."""
    return (
        f"{old_programme.name} {old_number} has been migrated to {new_programme.name} "
        f"{new_number}. The recommendations and accompanying content remain unchanged."
    )


def check_migration(document, new_reference, *, programmes=None):
    """Return (programme, number, reference) for a valid new reference, else raise RefusedChange."""
    if document.is_stub:
        raise RefusedChange(
            f"{document.reference} is a former reference or known only from a notice: "
            "migrate the document itself."
        )
    try:
        code, number = split_reference(new_reference)
    except MalformedReference as error:
        raise RefusedChange(str(error)) from None
    if programmes is None:
        programme = Programme.objects.filter(code=code).first()
    else:
        programme = programmes.get(code)
    if programme is None:
        raise RefusedChange(f"There is no programme {code}: the new reference must use one.")
    if not programme.is_active:
        raise RefusedChange(f"{programme} no longer publishes: choose a current programme.")
    reference = f"{code}{number}"
    if reference == document.reference:
        raise RefusedChange(f"{document.reference} already has that reference.")
    return programme, number, reference


def _refuse_taken(reference):
    taken = Guidance.objects.filter(reference=reference).first()
    if taken is not None:
        raise RefusedChange(f"{reference} already exists ({taken}): choose another number.")


def migrate_guidance(*, guidance, new_reference, month, user, reason):
    """Move a document to a new reference; its old reference becomes a former one leading to it.

    The document keeps its id, content, history and published date. A stub holds the old
    reference with a 'migrated to' relation dated to the month, and a minor update-information
    entry in NICE's wording is added. 'Last updated' does not move.
    """
    month = month.replace(day=1)
    with recording(
        user=user,
        reason=reason,
        kind=ChangeKind.MINOR,
        source=ChangeSet.Source.WORKFLOW,
        guidance=guidance,
    ):
        document = (
            Guidance.objects.select_for_update().select_related("programme").get(pk=guidance.pk)
        )
        programme, number, reference = check_migration(document, new_reference)
        _refuse_taken(reference)
        old_programme, old_number, old_reference = (
            document.programme,
            document.number,
            document.reference,
        )
        wording = migration_wording(old_programme, old_number, programme, number)
        document.reference, document.programme, document.number = reference, programme, number
        document.version += 1
        document.save()
        former = Guidance.objects.create(
            reference=old_reference,
            programme=old_programme,
            number=old_number,
            title=document.title,
            is_stub=True,
            status=GuidanceStatus.PUBLISHED,
        )
        Relation.objects.create(
            source=former,
            type=RelationType.MIGRATED_TO,
            target=document,
            effective_on=month,
            effective_precision=DatePrecision.MONTH,
            note=wording,
        )
        _add_update_entry(document, date=month, text=wording)
    return document


def _add_update_entry(document, *, date, text, kind=ChangeKind.MINOR):
    last = document.update_entries.aggregate(last=Max("position"))["last"] or 0
    return UpdateEntry.objects.create(
        guidance=document,
        position=last + 1,
        date=date,
        precision=DatePrecision.MONTH,
        kind=kind,
        text=text,
    )


def add_major_update(document, *, text, on):
    """Record a major change of published guidance: 'Last updated' and its update entry."""
    document.last_updated_on = on
    document.last_updated_precision = DatePrecision.DAY
    return _add_update_entry(document, date=on.replace(day=1), text=text, kind=ChangeKind.MAJOR)


def _reaches(start, goal, types):
    """Whether following relations of these types from start leads to goal."""
    seen, frontier = {start.pk}, {start.pk}
    while frontier:
        frontier = (
            set(
                Relation.objects.filter(source_id__in=frontier, type__in=types).values_list(
                    "target_id", flat=True
                )
            )
            - seen
        )
        if goal.pk in frontier:
            return True
        seen |= frontier
    return False


def current_document(guidance):
    """The document a reference now leads to, following migrations (itself if none)."""
    seen = {guidance.pk}
    while True:
        migration = Relation.objects.filter(source=guidance, type=RelationType.MIGRATED_TO).first()
        if migration is None or migration.target_id in seen:
            return guidance
        guidance = migration.target
        seen.add(guidance.pk)


def check_relation(*, source, target, relation_type):
    """Refuse a relation of a document to itself, or one that closes a circle.

    'Migrated to' is made only by the Migrate workflow, never recorded by hand.
    """
    relation_type = RelationType(relation_type)
    if relation_type == RelationType.MIGRATED_TO:
        raise RefusedChange(
            "'Migrated to' is recorded by 'Migrate to a new reference', which also keeps the "
            "old reference leading to the document and adds the update information."
        )
    if source.pk == target.pk:
        if relation_type in REPLACING:
            raise RefusedChange(f"{source.reference} cannot replace itself.")
        raise RefusedChange(f"{source.reference} cannot be related to itself.")
    types = REPLACING if relation_type in REPLACING else (relation_type,)
    if relation_type in (*REPLACING, RelationType.MIGRATED_TO) and _reaches(target, source, types):
        raise RefusedChange(
            f"{target.reference} already {relation_type.label} {source.reference} (directly "
            f"or through others): {source.reference} cannot also {relation_type.label} it."
            if relation_type == RelationType.MIGRATED_TO
            else f"{target.reference} already replaces {source.reference} (directly or "
            f"through others): a replacement cannot go round in a circle."
        )


def replace_guidance(
    *, guidance, replaced, user, reason, partially=False, effective_on=None, note=""
):
    """Record that a document replaces (or partially replaces) an older one.

    The older one keeps its page and status; its page shows the 'replaced by' notice. An
    unsaved older record (a reference not yet held) is saved as a stub first.
    """
    relation_type = RelationType.PARTIALLY_REPLACES if partially else RelationType.REPLACES
    with recording(user=user, reason=reason, source=ChangeSet.Source.WORKFLOW, guidance=guidance):
        source = Guidance.objects.select_for_update().get(pk=guidance.pk)
        if replaced.pk is not None:
            # A former reference leads to its document: the replacement is of that document.
            replaced = current_document(replaced)
        if replaced.pk is None:
            # A reference named only by this notice becomes a stub, as an import would make it.
            _refuse_taken(replaced.reference)
            replaced.save()
        check_relation(source=source, target=replaced, relation_type=relation_type)
        if Relation.objects.filter(source=source, target=replaced, type__in=REPLACING).exists():
            raise RefusedChange(f"{source.reference} is already recorded as replacing it.")
        return Relation.objects.create(
            source=source,
            type=relation_type,
            target=replaced,
            effective_on=effective_on,
            effective_precision=DatePrecision.MONTH,
            note=note,
            position=source.relations.count(),
        )


@dataclass
class BulkRow:
    line: int
    old_reference: str
    new_reference: str
    month: datetime.date | None = None
    document: Guidance | None = None
    programme: Programme | None = None
    number: int | None = None
    problems: list = field(default_factory=list)

    @property
    def month_display(self):
        return DatePrecision.MONTH.format(self.month)


@dataclass
class BulkMigrationPlan:
    rows: list
    problems: list  # (line, message), line 0 for the file as a whole

    @property
    def ok(self):
        return bool(self.rows) and not self.problems


def _parse_month(value):
    try:
        return datetime.datetime.strptime(value.strip(), "%Y-%m").date()
    except ValueError:
        return None


def _read_rows(csv_text):
    """Yield (line, cells) for each non-blank row, skipping a header row."""
    for line, cells in enumerate(csv.reader(csv_text.splitlines()), start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if line == 1 and cells and cells[0].lower().replace("_", " ").startswith("old"):
            continue
        yield line, cells


def plan_bulk_migration(csv_text, *, lock=False):
    """Check every row of a bulk migration file and say what each will do, without writing."""
    rows, problems = [], []
    for line, cells in _read_rows(csv_text):
        if len(cells) != 3:
            columns = "3 columns (old reference, new reference, month)"
            problems.append((line, f"Expected {columns}, found {len(cells)}."))
            continue
        row = BulkRow(line, cells[0], cells[1], _parse_month(cells[2]))
        if row.month is None:
            row.problems.append(f"{cells[2]!r} is not a month: write it as YYYY-MM, e.g. 2026-01.")
        for label, value in (("old", row.old_reference), ("new", row.new_reference)):
            try:
                code, number = split_reference(value)
            except MalformedReference:
                row.problems.append(
                    f"The {label} reference {value!r} is not a reference (e.g. HTG501)."
                )
                continue
            setattr(row, f"{label}_reference", f"{code}{number}")
        rows.append(row)
    if not rows and not problems:
        problems.append((0, "The file has no rows."))
    if len(rows) > MAX_BULK_ROWS:
        problems.append((0, f"The file has {len(rows)} rows; at most {MAX_BULK_ROWS} at a time."))
        return BulkMigrationPlan(rows=[], problems=problems)

    documents = Guidance.objects.select_related("programme").filter(
        reference__in=[row.old_reference for row in rows]
    )
    if lock:
        documents = documents.select_for_update(of=("self",))
    documents = {document.reference: document for document in documents}
    taken = set(
        Guidance.objects.filter(reference__in=[row.new_reference for row in rows]).values_list(
            "reference", flat=True
        )
    )
    programmes = {programme.code: programme for programme in Programme.objects.all()}
    first_line_of = {}
    for row in rows:
        if row.problems:
            continue
        for key in ("old", "new"):
            reference = getattr(row, f"{key}_reference")
            earlier = first_line_of.setdefault((key, reference), row.line)
            if earlier != row.line:
                row.problems.append(f"{reference} is also on row {earlier}.")
        document = documents.get(row.old_reference)
        if document is None:
            row.problems.append(f"There is no guidance {row.old_reference}.")
            continue
        row.document = document
        try:
            row.programme, row.number, _ = check_migration(
                document, row.new_reference, programmes=programmes
            )
        except RefusedChange as refusal:
            row.problems.append(str(refusal))
            continue
        if row.new_reference in taken:
            row.problems.append(f"{row.new_reference} already exists.")
    problems.extend((row.line, problem) for row in rows for problem in row.problems)
    problems.sort(key=lambda item: item[0])
    return BulkMigrationPlan(rows=rows, problems=problems)


def apply_bulk_migration(*, csv_text, user, reason):
    """Migrate every row of the file as one change, or none if any row has a problem.

    Checks the file again inside the transaction, so what is applied is what is valid now.
    """
    with recording(
        user=user, reason=reason, kind=ChangeKind.MINOR, source=ChangeSet.Source.WORKFLOW
    ):
        plan = plan_bulk_migration(csv_text, lock=True)
        if not plan.ok:
            raise RefusedChange(
                f"Nothing was migrated: the file has {len(plan.problems)} problem(s)."
            )
        formers, relations, entries = _migrate_rows(plan.rows)
        bulk_create_with_history(relations_with_sources(relations, formers), Relation)
        _add_update_entries(entries)
    return plan


def _migrate_rows(rows):
    documents, formers, relations, entries = [], [], [], []
    for row in rows:
        document = row.document
        wording = migration_wording(document.programme, document.number, row.programme, row.number)
        formers.append(
            Guidance(
                reference=document.reference,
                programme=document.programme,
                number=document.number,
                title=document.title,
                is_stub=True,
                status=GuidanceStatus.PUBLISHED,
            )
        )
        relations.append(
            Relation(
                type=RelationType.MIGRATED_TO,
                target=document,
                effective_on=row.month,
                effective_precision=DatePrecision.MONTH,
                note=wording,
            )
        )
        entries.append((document, row.month, wording))
        document.reference, document.programme, document.number = (
            row.new_reference,
            row.programme,
            row.number,
        )
        document.version += 1
        documents.append(document)
    # New references first, so the old ones are free for the stubs.
    bulk_update_with_history(documents, Guidance, ["reference", "programme", "number", "version"])
    formers = bulk_create_with_history(formers, Guidance)
    return formers, relations, entries


def relations_with_sources(relations, formers):
    for relation, former in zip(relations, formers, strict=True):
        relation.source = former
    return relations


def _add_update_entries(entries):
    last_positions = dict(
        UpdateEntry.objects.filter(guidance__in=[document for document, _, _ in entries])
        .values("guidance")
        .annotate(last=Max("position"))
        .values_list("guidance", "last")
    )
    bulk_create_with_history(
        [
            UpdateEntry(
                guidance=document,
                position=last_positions.get(document.pk, 0) + 1,
                date=month,
                precision=DatePrecision.MONTH,
                kind=ChangeKind.MINOR,
                text=wording,
            )
            for document, month, wording in entries
        ],
        UpdateEntry,
    )


# Editing a chapter: a page holds a part of a chapter, cut at sub-headings, so that no page
# sends more fields than Django accepts (about nine a paragraph, a thousand a request).
PART_SIZE = 60
BLOCK_FIELDS = ("kind", "number", "level", "title", "text", "bullets", "category")
NUMBERED_KINDS = (Block.Kind.PARAGRAPH, Block.Kind.RECOMMENDATION)


def chapter_parts(chapter):
    """The chapter's blocks in order, cut into pages at sub-headings of PART_SIZE at most."""
    parts, part = [], []
    for block in Block.objects.filter(chapter=chapter).order_by("position"):
        starts_section = block.kind == Block.Kind.HEADING
        if part and (len(part) >= PART_SIZE or (starts_section and len(part) >= PART_SIZE // 2)):
            parts.append(part)
            part = []
        part.append(block)
    if part or not parts:
        parts.append(part)
    return parts


def renumber(rows, chapter_number):
    """Number a chapter's numbered paragraphs and recommendations in order, in place.

    A row keeps the prefix of its number (1.3 of 1.3.4) and counts on from the row before it;
    a new paragraph or recommendation without a number takes the prefix of the row before.
    """
    prefixes = [row.number.rpartition(".")[0] for row in rows if row.number]
    prefix = prefixes[0] if prefixes else chapter_number
    count = 0
    for row in rows:
        if row.number:
            own = row.number.rpartition(".")[0] or prefix
        elif (
            row.pk is None
            and row.kind in NUMBERED_KINDS
            and (prefixes or row.kind == "recommendation")
        ):
            own = prefix
        else:
            continue
        if own != prefix:
            prefix, count = own, 0
        count += 1
        row.number = f"{prefix}.{count}" if prefix else str(count)


def save_chapter_part(*, chapter, part, rows, deleted):
    """Write one page of a chapter: its blocks in the order `rows`, without those `deleted`.

    `part` is the page's blocks as they were; the chapter's other blocks keep their order
    around it. Rows whose place or number changes wait out of the way first, so that the
    chapter's unique positions and numbers hold at every step. Runs inside the caller's change.
    """
    others = list(Block.objects.filter(chapter=chapter).order_by("position"))
    stored = {block.pk: copy.copy(block) for block in others}
    part_ids = {block.pk for block in part}
    first = min((block.position for block in part), default=None)
    before = [
        b for b in others if b.pk not in part_ids and first is not None and b.position < first
    ]
    after = [b for b in others if b.pk not in part_ids and b not in before]
    for block in deleted:
        block.delete()
    order = [*before, *rows, *after]
    for position, row in enumerate(order, start=1):
        row.position = position
    kept = [row for row in order if row.pk is not None]
    moving = [
        row
        for row in kept
        if (stored[row.pk].position, stored[row.pk].number) != (row.position, row.number)
    ]
    if moving:
        parked = [copy.copy(stored[row.pk]) for row in moving]
        for index, row in enumerate(parked):
            row.position, row.number = PARKED + index, ""
        bulk_update_with_history(parked, Block, ["position", "number"])
    changed = [row for row in kept if row in moving or _block_differs(stored[row.pk], row)]
    if changed:
        bulk_update_with_history(changed, Block, ["position", *BLOCK_FIELDS])
    new = [row for row in order if row.pk is None]
    if new:
        bulk_create_with_history(new, Block)


def _block_differs(stored, row):
    return any(getattr(stored, name) != getattr(row, name) for name in BLOCK_FIELDS)


def earlier_numbers(blocks):
    """{key: the numbers each block had before its present one}, from history, in one query."""
    current = {block.key: block.number for block in blocks if block.key}
    rows = (
        Block.history.filter(key__in=current)
        .exclude(number="")
        .order_by("history_date", "history_id")
        .values_list("key", "number")
    )
    earlier = {}
    for key, number in rows:
        if number != current[key] and number not in earlier.setdefault(key, []):
            earlier[key].append(number)
    return earlier


def park_moving_rows(formset):
    """Move the rows an inline formset renumbers or deletes out of the way before it saves.

    The formset saves row by row, so swapping two chapters' positions would otherwise make
    them share one for a moment and break the (document, position) constraint.
    """
    moving = [
        form.instance.pk
        for form in formset.initial_forms
        if form.instance.pk is not None
        and (form.cleaned_data.get("DELETE") or {"position", "slug"} & set(form.changed_data))
    ]
    if not moving:
        return
    rows = list(formset.model.objects.filter(pk__in=moving))
    fields = ["position"]
    for index, row in enumerate(rows):
        row.position = PARKED + index
        if formset.model is Chapter:
            row.slug = f"moving-{row.pk}"
            fields = ["position", "slug"]
    bulk_update_with_history(rows, formset.model, fields)
