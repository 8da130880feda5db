"""What an overview or a chapter page shows, in one PostgreSQL query, for pages the cache does
not hold.

Through the ORM, such a page costs three to five queries, and building each query costs Django
more than PostgreSQL takes to answer it. Here one statement returns the document, its
programme and, as JSON, its public relations, its chapters, the blocks of the chapter the page
shows (the overview shows the recommendations) and its endorsements; they are made into the
model instances the ORM would give, so that the templates are the ones the ORM path renders,
and tests/test_page_loader.py checks that both render the same pages for every kind of
document.

Other databases, and references that were migrated (the view follows them to where they now
live), take the ORM path.
"""

import datetime
import functools

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection
from django.db.models import DateField, DateTimeField, DecimalField, TimeField, UUIDField

from ..models import (
    RECOMMENDATIONS_TITLES,
    Block,
    Chapter,
    Endorsement,
    Guidance,
    GuidanceStatus,
    Organisation,
    Programme,
    Relation,
)


def _row(model, alias):
    """A row of a model as a JSON object of all its columns, named as the model's fields."""
    fields = model._meta.concrete_fields
    return (
        "json_build_object(" + ", ".join(f"'{f.attname}', {alias}.{f.column}" for f in fields) + ")"
    )


def _document_sql(shown_chapter):
    """The statement for a page that shows the blocks of the chapter matching a condition."""
    return f"""
WITH shown AS (
  SELECT c.id FROM guidance_chapter c JOIN guidance_guidance g ON g.id = c.guidance_id
   WHERE g.reference = %(reference)s AND {shown_chapter}
   ORDER BY c.position LIMIT 1
)
SELECT {_row(Guidance, "g")}, {_row(Programme, "p")},
  (SELECT json_agg(json_build_array({_row(Relation, "r")}, {_row(Guidance, "o")},
                                    {_row(Programme, "op")}))
     FROM guidance_relation r
     JOIN guidance_guidance o
       ON o.id = CASE WHEN r.source_id = g.id THEN r.target_id ELSE r.source_id END
     JOIN guidance_programme op ON op.id = o.programme_id
    WHERE (r.source_id = g.id OR r.target_id = g.id) AND o.status <> %(draft)s),
  (SELECT json_agg({_row(Chapter, "c")} ORDER BY c.position)
     FROM guidance_chapter c WHERE c.guidance_id = g.id),
  (SELECT id FROM shown),
  (SELECT json_agg({_row(Block, "b")} ORDER BY b.position)
     FROM guidance_block b WHERE b.chapter_id = (SELECT id FROM shown)),
  (SELECT json_agg(json_build_array({_row(Endorsement, "e")}, {_row(Organisation, "o")})
                   ORDER BY o.name)
     FROM guidance_endorsement e JOIN guidance_organisation o ON o.id = e.organisation_id
    WHERE e.guidance_id = g.id),
  EXISTS (SELECT 1 FROM guidance_updateentry u WHERE u.guidance_id = g.id)
FROM guidance_guidance g JOIN guidance_programme p ON p.id = g.programme_id
WHERE g.reference = %(reference)s AND g.status <> %(draft)s
"""


OVERVIEW_SQL = _document_sql("lower(btrim(c.title)) = ANY(%(titles)s)")
CHAPTER_SQL = _document_sql("c.slug = %(slug)s")


def _from_json(field):
    """How to read a column's value back from JSON, which keeps only strings, numbers, booleans,
    lists and objects; None where the value needs nothing."""
    if isinstance(field, DateTimeField):
        return datetime.datetime.fromisoformat
    if isinstance(field, DateField):
        return datetime.date.fromisoformat
    if isinstance(field, DecimalField | TimeField | UUIDField):
        return field.to_python
    return None


@functools.cache
def _fields(model):
    """(attname, how to read it from JSON) of each column, in the order Model(*values) takes."""
    return [(f.attname, _from_json(f)) for f in model._meta.concrete_fields]


def _instance(model, values):
    """The instance the ORM would load, from a row as JSON."""
    return model.from_db(
        DEFAULT_DB_ALIAS,  # the database `connection` is
        None,
        [
            read(values[name]) if read and values[name] is not None else values[name]
            for name, read in _fields(model)
        ],
    )


def _guidance(values, programme_values):
    guidance = _instance(Guidance, values)
    guidance.programme = _instance(Programme, programme_values)
    return guidance


def fetch_one(sql, parameters):
    """The statement's row, run on a cursor that binds parameters on the server, so that
    psycopg prepares the statement (see prepare_threshold in config/settings.py): planning this
    statement takes PostgreSQL longer than running it. Django's own cursors bind on the client,
    which cannot prepare.

    Django checks a reused connection with a query of its own before the first query of each
    request. Here the statement is the check: when such a connection turns out to be lost (the
    server restarted, or dropped it), it is closed and the statement runs once more on a new
    one, which is safe for a read outside any transaction; any other error is raised as it is.
    One round trip to the database instead of two.
    """
    unchecked = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    try:
        row = _execute(sql, parameters)
    except (InterfaceError, OperationalError):
        if not (unchecked and connection.connection.closed):
            raise
        connection.close()
        row = _execute(sql, parameters)
    connection.health_check_done = True
    return row


def _execute(sql, parameters):
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection._prepare_cursor(psycopg.Cursor(connection.connection))
    with cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchone()


def load_document(reference, chapter_slug=None):
    """What the overview of the public document at a normalised reference shows, or with a
    chapter_slug what that chapter's page shows: (record, chapters, the chapter shown or None,
    its blocks, endorsements). None where the ORM path must answer (see the module's doc).
    """
    if connection.vendor != "postgresql":
        return None
    parameters = {"reference": reference, "draft": GuidanceStatus.DRAFT.value}
    if chapter_slug is None:
        sql, parameters["titles"] = OVERVIEW_SQL, list(RECOMMENDATIONS_TITLES)
    else:
        sql, parameters["slug"] = CHAPTER_SQL, chapter_slug
    row = fetch_one(sql, parameters)
    if row is None:
        return None
    record_values, programme_values, relations, chapters, shown_id, blocks, endorsements = row[:7]
    record = _guidance(record_values, programme_values)
    record.has_update_information = row[7]

    loaded = []
    for relation_values, other_values, other_programme_values in relations or ():
        other = _guidance(other_values, other_programme_values)
        relation = _instance(Relation, relation_values)
        relation.source = record if relation.source_id == record.id else other
        relation.target = record if relation.target_id == record.id else other
        loaded.append(relation)
    record.keep_public_relations(loaded)
    if record.migration is not None:
        return None  # the view redirects to where it now lives

    chapters = [_instance(Chapter, values) for values in chapters or ()]
    for chapter in chapters:
        chapter.guidance = record
    if chapter_slug is None:
        shown = next((c for c in chapters if c.is_recommendations), None)
    else:
        shown = next((c for c in chapters if c.slug == chapter_slug), None)
    if shown is None:
        blocks = []
    elif shown.id == shown_id:
        blocks = [_instance(Block, values) for values in blocks or ()]
    else:  # a title that only Python's wider idea of white space makes 'Recommendations'
        blocks = list(shown.blocks.order_by("position"))
    loaded_endorsements = []
    for endorsement_values, organisation_values in endorsements or ():
        endorsement = _instance(Endorsement, endorsement_values)
        endorsement.organisation = _instance(Organisation, organisation_values)
        loaded_endorsements.append(endorsement)
    return record, chapters, shown, blocks, loaded_endorsements
