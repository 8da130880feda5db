"""Write a stored document back out: as NICE's text format, or as the structured JSON record.

The JSON shape is the product's public data contract: keys are only ever added.
"""

from ..models import Block, Guidance, RelationType, date_json


def load_document(reference):
    """The document with everything an export needs, in a fixed number of queries."""
    return (
        Guidance.objects.select_related("programme")
        .prefetch_related(
            "chapters__blocks",
            "update_entries",
            "endorsements__organisation",
            "relations__target__programme",
            "inverse_relations__source__programme",
        )
        .get(reference=reference)
    )


def replaces_lines(guidance):
    """'This guidance replaces IPG420 and IPG640.': replaced documents and former references."""
    lines = []
    replaced = [r.target.reference for r in guidance.replaces if r.type == RelationType.REPLACES]
    replaced += [r.source.reference for r in guidance.former_references]
    partly = [r.target.reference for r in guidance.replaces if r.type != RelationType.REPLACES]
    for verb, references in (("replaces", replaced), ("partially replaces", partly)):
        if references:
            lines.append(f"This guidance {verb} {join_and(references)}.")
    return lines


def join_and(items):
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def replaced_by_notices(guidance):
    notices = []
    for relation in guidance.replaced_by:
        partially = "partially " if relation.type == RelationType.PARTIALLY_REPLACES else ""
        notices.append(
            relation.note
            or f"This guidance has been {partially}replaced by {relation.source.reference}."
        )
    return notices


def block_lines(block, recommendations_style=False):
    if block.kind == Block.Kind.HEADING:
        return [f"### {' '.join(filter(None, [block.number, block.text]))}"]
    if block.kind == Block.Kind.RATIONALE:
        return [f"### {block.title}", *block.text.split("\n\n")]
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
    out += ["  \n".join(header), ""]
    url = f"www.nice.org.uk/guidance/{guidance.reference.lower()}"
    out += [f"[{url}](https://{url})", ""]
    if guidance.summary:
        out += [guidance.summary, ""]
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
    for line in replaces_lines(guidance):
        out += [line, ""]
    if guidance.is_stub:
        out += ["# Guidance", ""]
    for notice in replaced_by_notices(guidance):
        out += [notice, ""]

    for chapter in chapters:
        out += [f"# {chapter.heading}", ""]
        for block in chapter.blocks.all():
            out += [line for line in block_lines(block) for line in (line, "")]

    if entries:
        out += ["# Update information", ""]
        majors = [e for e in entries if e.kind == "major"]
        minors = [e for e in entries if e.kind == "minor"]
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
    if block.bullets:
        data["bullets"] = list(block.bullets)
    if block.category:
        data["category"] = block.category
    return data


def export_json(guidance):
    """The structured record: the public data contract."""
    chapters = list(guidance.chapters.all())
    relations = [*guidance.relations.all(), *guidance.inverse_relations.all()]
    statement = guidance.responsibility_statement()
    return {
        "reference": guidance.reference,
        "title": guidance.title,
        "summary": guidance.summary,
        "programme": {"code": guidance.programme.code, "name": guidance.programme.name},
        "status": guidance.status,
        "status_explanation": guidance.status_explanation,
        "is_stub": guidance.is_stub,
        "published": date_json(guidance.published_on, guidance.published_precision),
        "last_updated": date_json(guidance.last_updated_on, guidance.last_updated_precision),
        "isbn": guidance.isbn,
        "url": guidance.get_absolute_url(),
        "former_references": [r.source.reference for r in guidance.former_references],
        "relations": [relation_json(r, guidance) for r in relations],
        "recommendations": [
            {"number": b.number, "text": b.text, "category": b.category or None}
            for chapter in chapters
            for b in chapter.blocks.all()
            if b.kind == Block.Kind.RECOMMENDATION
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
