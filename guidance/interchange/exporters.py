"""Write a stored document back out: as NICE's text format, or as the structured JSON record.

The JSON shape is the product's public data contract: keys are only ever added.
"""

import calendar
import re

from ..models import (
    EDITION_WORKFLOW_FIELDS,
    Block,
    ChangeKind,
    DatePrecision,
    Guidance,
    RelationType,
    date_json,
)

# What an export reads of a document beside its programme and relations.
DOCUMENT_PARTS = ("chapters__blocks", "update_entries", "endorsements__organisation")


def load_document(reference):
    """The document with everything an export needs, in a fixed number of queries."""
    return (
        Guidance.objects.select_related("programme")
        .prefetch_related(
            *DOCUMENT_PARTS,
            "relations__target__programme",
            "inverse_relations__source__programme",
        )
        .get(reference=reference)
    )


def worded(relation, words):
    """The relation's notice as published, if it is worded from this side ('… replaced by')."""
    return relation.note if words in relation.note.lower() else ""


def relation_lines(guidance, elsewhere):
    """The notices of what this document replaces, is based on or was migrated from.

    A notice is said in NICE's words as published (its note), once, unless the document says
    it elsewhere (in a paragraph or an update entry); a relation recorded without words from
    this side gets plain ones. A migration is said as a migration, never as a replacement.
    """
    lines = []
    unworded = {"replaces": [], "partially replaces": []}
    for relation in guidance.replaces:
        if note := worded(relation, " replaces "):
            lines.append(note)
        else:
            verb = "replaces" if relation.type == RelationType.REPLACES else "partially replaces"
            unworded[verb].append(relation.target.reference)
    for verb, references in unworded.items():
        if references:
            lines.append(f"This guidance {verb} {join_and(references)}.")
    migrations = [guidance.migration] if guidance.migration else []
    for relation in [*migrations, *guidance.former_references]:
        lines.append(
            relation.note
            or f"{relation.source.reference} has been migrated to {relation.target.reference}."
        )
    for relation in guidance.outgoing_relations():
        if relation.type == RelationType.BASED_ON:
            lines.append(
                worded(relation, "based on")
                or f"This guidance is based on {relation.target.reference}."
            )
    for relation in guidance.incoming_relations():
        if relation.type == RelationType.BASED_ON:
            lines.append(
                worded(relation, "basis of")
                or f"This guidance is the basis of {relation.source.reference}."
            )
    said = []
    for line in lines:
        if line not in said and line not in elsewhere:
            said.append(line)
    return said


def join_and(items):
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def replaced_by_notices(guidance):
    notices = []
    for relation in guidance.replaced_by:
        partially = "partially " if relation.type == RelationType.PARTIALLY_REPLACES else ""
        notices.append(
            worded(relation, "replaced by")
            or f"This guidance has been {partially}replaced by {relation.source.reference}."
        )
    return notices


def block_lines(block, recommendations_style=False):
    # Chapters are written as '#', so a heading of level 1 under one is '##'.
    marks = "#" * min(6, 1 + (block.level or 1))
    if block.kind == Block.Kind.HEADING:
        return [f"{marks} {' '.join(filter(None, [block.number, block.text]))}"]
    if block.kind == Block.Kind.RATIONALE:
        return [f"{marks} {block.title}", *block.text.split("\n\n")]
    if block.kind == Block.Kind.RESEARCH and block.title:
        lines = [f"{marks} {' '.join(filter(None, [block.number, block.title]))}"]
        lines += [paragraph for paragraph in block.text.split("\n\n") if paragraph]
        if block.bullets:
            lines.append("\n".join(f"- {item}" for item in block.bullets))
        return lines
    text = " ".join(filter(None, [block.number, block.text]))
    lines = [f"- {text}" if recommendations_style and block.number else text] if text else []
    if block.bullets:
        lines.append("\n".join(f"- {item}" for item in block.bullets))
    return lines


def export_text(guidance):
    """The document in NICE's text format, one paragraph per blank-line-separated block."""
    out = [f"# {guidance.title or guidance.reference}", ""]
    header = [guidance.programme.name]
    if guidance.published_on:
        header.append(f"Published: {guidance.published_display}")
    else:
        header.append(f"Reference: {guidance.reference}")
    if guidance.last_updated_on:
        header.append(f"Last updated: {guidance.last_updated_display}")
    if guidance.review_decision_on:
        header.append(f"Review decision date: {guidance.review_decision_display}")
    if guidance.last_reviewed_on:
        header.append(f"Last reviewed: {guidance.last_reviewed_display}")
    out += ["  \n".join(header), ""]
    url = f"www.nice.org.uk/guidance/{guidance.reference.lower()}"
    out += [f"[{url}](https://{url})", ""]
    if guidance.summary:
        out += [line for paragraph in guidance.summary.split("\n\n") for line in (paragraph, "")]
    out += [line for notice in guidance.notice_paragraphs for line in (notice, "")]
    if guidance.status_explanation:
        out += [guidance.status_explanation, ""]

    statement = guidance.responsibility_statement()
    if statement and not guidance.is_stub:
        out += ["# Your responsibility", ""]
        out += [line for paragraph in statement.paragraphs for line in (paragraph, "")]

    chapters = list(guidance.chapters.all())
    entries = list(guidance.update_entries.all())
    if chapters:
        out += ["# Contents", ""]
        for chapter in chapters:
            out.append(chapter.heading)
            out += [b.text for b in chapter.blocks.all() if b.kind == Block.Kind.HEADING]
        if entries:
            out.append("Update information")
        out.append("")
    elsewhere = "\n".join(
        [guidance.summary]
        + [e.text for e in entries]
        + [b.text for chapter in chapters for b in chapter.blocks.all()]
    )
    for line in relation_lines(guidance, elsewhere):
        out += [line, ""]
    for notice in replaced_by_notices(guidance):
        out += [notice, ""]

    for chapter in chapters:
        out += [f"# {chapter.heading}", ""]
        for block in chapter.blocks.all():
            out += [line for line in block_lines(block) for line in (line, "")]

    if entries:
        out += ["# Update information", ""]
        majors = [e for e in entries if e.kind == ChangeKind.MAJOR]
        minors = [e for e in entries if e.kind == ChangeKind.MINOR]
        for entry in majors:
            out += [f"**{entry.date_display}:** {entry.text}", ""]
        if minors:
            out += [f"## {guidance.minor_changes_heading}", ""]
            for entry in minors:
                out += [f"**{entry.date_display}:** {entry.text}", ""]
    if guidance.isbn:
        out += [f"ISBN: {guidance.isbn}", ""]
    in_text = " ".join(b.text for c in chapters for b in c.blocks.all())
    statements = [e.statement for e in guidance.endorsements.all() if e.statement not in in_text]
    if statements:
        out += ["# Endorsing organisation", ""]
        out += [line for statement in statements for line in (statement, "")]
    return "\n".join(out).rstrip() + "\n"


def relation_json(relation, guidance):
    if relation.source_id == guidance.pk:
        direction, other = "outgoing", relation.target
        label = RelationType(relation.type).label
    else:
        direction, other = "incoming", relation.source
        label = RelationType(relation.type).inverse_label
    return {
        "type": relation.type,
        "label": str(label),
        "direction": direction,
        "reference": other.reference,
        "effective": date_json(relation.effective_on, relation.effective_precision),
        "note": relation.note,
    }


def block_json(block):
    data = {"type": block.kind, "number": block.number or None, "text": block.text}
    if block.title:
        data["title"] = block.title
    if block.kind in LEVELLED:
        data["level"] = block.level or 1
    if block.bullets:
        data["bullets"] = list(block.bullets)
    if block.category:
        data["category"] = block.category
    return data


def dated(text):
    """A notice's date, as its words give it ('November 2021: …'), or None."""
    match = NOTICE_DATE.match(text)
    if not match:
        return None
    words = match.group(1).split()
    try:
        if len(words) == 3:
            return {
                "date": f"{int(words[2]):04}-{MONTHS[words[1]]:02}-{int(words[0]):02}",
                "precision": DatePrecision.DAY,
            }
        return {
            "date": f"{int(words[1]):04}-{MONTHS[words[0]]:02}-01",
            "precision": DatePrecision.MONTH,
        }
    except KeyError:
        return None


MONTHS = {name: number for number, name in enumerate(calendar.month_name) if name}
NOTICE_DATE = re.compile(r"^((?:\d{1,2} )?[A-Z][a-z]+ \d{4}):")
LEVELLED = (Block.Kind.HEADING, Block.Kind.RATIONALE, Block.Kind.RESEARCH)

# Where each field of a document is in the JSON record ("" for bookkeeping no reader needs).
# tests/test_export_guidance.py fails, naming the field, when a model field is missing here.
EXPORTED_FIELDS = {
    "Guidance": {
        "id": "",
        "version": "",
        "reference": "reference",
        "programme": "programme",
        "number": "number",
        "title": "title",
        "summary": "summary",
        "status": "status",
        "status_explanation": "status_explanation",
        "is_stub": "is_stub",
        "published_on": "published",
        "published_precision": "published",
        "last_updated_on": "last_updated",
        "last_updated_precision": "last_updated",
        "isbn": "isbn",
        "review_decision_on": "review_decision",
        "review_decision_precision": "review_decision",
        "last_reviewed_on": "last_reviewed",
        "last_reviewed_precision": "last_reviewed",
        "notices": "notices",
        "minor_changes_heading": "minor_changes_heading",
        # The draft edition's review workflow: not what the document says.
        **dict.fromkeys(EDITION_WORKFLOW_FIELDS, ""),
    },
    "Chapter": {
        "id": "",
        "key": "",
        "guidance": "",
        "position": "",
        "number": "number",
        "title": "title",
        "slug": "slug",
    },
    "Block": {
        "id": "",
        "guidance": "",
        "chapter": "",
        "position": "",
        "kind": "type",
        "number": "number",
        "title": "title",
        "text": "text",
        "bullets": "bullets",
        "category": "category",
        "level": "level",
        "key": "",
    },
    "UpdateEntry": {
        "id": "",
        "key": "",
        "guidance": "",
        "position": "",
        "date": "date",
        "precision": "precision",
        "kind": "kind",
        "text": "text",
    },
    "Relation": {
        "id": "",
        "source": "reference",
        "target": "reference",
        "type": "type",
        "effective_on": "effective",
        "effective_precision": "effective",
        "note": "note",
        "position": "",
    },
}


def stated(value):
    """A fact the document does not state is null, never an empty string."""
    return value or None


def export_json(guidance):
    """The structured record: the public data contract."""
    chapters = list(guidance.chapters.all())
    relations = [*guidance.outgoing_relations(), *guidance.incoming_relations()]
    statement = guidance.responsibility_statement()
    return {
        "reference": guidance.reference,
        "number": guidance.number,
        "title": stated(guidance.title),
        "summary": stated(guidance.summary),
        "programme": {"code": guidance.programme.code, "name": guidance.programme.name},
        "status": guidance.status,
        "status_explanation": stated(guidance.status_explanation),
        "is_stub": guidance.is_stub,
        "published": date_json(guidance.published_on, guidance.published_precision),
        "last_updated": date_json(guidance.last_updated_on, guidance.last_updated_precision),
        "review_decision": date_json(
            guidance.review_decision_on, guidance.review_decision_precision
        ),
        "last_reviewed": date_json(guidance.last_reviewed_on, guidance.last_reviewed_precision),
        "notices": [{"date": dated(text), "text": text} for text in guidance.notice_paragraphs],
        "isbn": stated(guidance.isbn),
        "minor_changes_heading": guidance.minor_changes_heading,
        "url": guidance.get_absolute_url(),
        "former_references": [r.source.reference for r in guidance.former_references],
        "relations": [relation_json(r, guidance) for r in relations],
        "recommendations": [
            {"number": b.number, "text": b.text, "category": b.category or None}
            for chapter in chapters
            for b in chapter.blocks.all()
            if b.kind == Block.Kind.RECOMMENDATION
        ],
        "research_recommendations": [
            {
                "number": b.number or None,
                "title": stated(b.title),
                "text": b.text,
                "chapter": chapter.slug,
            }
            for chapter in chapters
            for b in chapter.blocks.all()
            if b.kind == Block.Kind.RESEARCH
        ],
        "chapters": [
            {
                "number": c.number or None,
                "title": c.title,
                "slug": c.slug,
                "blocks": [block_json(b) for b in c.blocks.all()],
            }
            for c in chapters
        ],
        "update_information": [
            {
                "date": e.date.isoformat(),
                "precision": e.precision,
                "kind": e.kind,
                "text": e.text,
            }
            for e in guidance.update_entries.all()
        ],
        "endorsements": [
            {"organisation": e.organisation.name, "statement": e.statement}
            for e in guidance.endorsements.all()
        ],
        "your_responsibility": {
            "applies_from": date_json(statement.applies_from, statement.applies_from_precision),
            "text": statement.text,
        }
        if statement
        else None,
    }
