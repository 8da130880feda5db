"""Full-text search for the public guidance list (PostgreSQL only; a no-op elsewhere).

Two derived structures, kept by PostgreSQL itself so that no write path can forget them:

- an index on the words of each document's reference and title, used to match and to rank
  (the expression is GUIDANCE_WORDS in models.py);
- guidance_search_document: one row per document with the words of all its blocks, kept
  up to date by statement-level triggers on guidance_block, so that a common word is
  matched once per document rather than once per paragraph.

The indexes have no pending list (fastupdate off): with one, the planner prices a search
by the list's size until the next vacuum and scans every document instead.

guidance_search_matches(query) returns the ids of the documents that match.

Neither is a model field: they are derived, hold nothing that is not already in the
model's tables, and carry no history. GuidanceQuerySet.search() reads them.
Other databases fall back to substring matching.
"""

from django.db import migrations

CONFIG = "english"

FORWARD = [
    f"""
    CREATE INDEX guidance_search_vector ON guidance_guidance USING gin (
        to_tsvector('{CONFIG}'::regconfig, coalesce(reference, '') || ' ' || coalesce(title, ''))
    ) WITH (fastupdate = off)
    """,
    """
    CREATE TABLE guidance_search_document (
        guidance_id bigint PRIMARY KEY,
        vector tsvector NOT NULL
    )
    """,
    """
    CREATE INDEX guidance_search_document_vector ON guidance_search_document USING gin (vector)
        WITH (fastupdate = off)
    """,
    f"""
    CREATE FUNCTION guidance_search_document_refresh(ids bigint[]) RETURNS void
    LANGUAGE sql AS $$
        DELETE FROM guidance_search_document WHERE guidance_id = ANY(ids);
        INSERT INTO guidance_search_document (guidance_id, vector)
        SELECT guidance_id, to_tsvector('{CONFIG}'::regconfig, string_agg(text, ' '))
        FROM guidance_block WHERE guidance_id = ANY(ids)
        GROUP BY guidance_id;
    $$
    """,
    """
    CREATE FUNCTION guidance_block_search_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM guidance_search_document_refresh(
                ARRAY(SELECT DISTINCT guidance_id FROM new_blocks));
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM guidance_search_document_refresh(
                ARRAY(SELECT DISTINCT guidance_id FROM old_blocks));
        ELSE
            -- Only where the words changed: saves and bulk updates rewrite every column.
            PERFORM guidance_search_document_refresh(ARRAY(
                SELECT unnest(ARRAY[n.guidance_id, o.guidance_id])
                FROM new_blocks n JOIN old_blocks o USING (id)
                WHERE n.text IS DISTINCT FROM o.text
                    OR n.guidance_id IS DISTINCT FROM o.guidance_id));
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER guidance_block_search_insert AFTER INSERT ON guidance_block
        REFERENCING NEW TABLE AS new_blocks
        FOR EACH STATEMENT EXECUTE FUNCTION guidance_block_search_changed()
    """,
    """
    CREATE TRIGGER guidance_block_search_update AFTER UPDATE ON guidance_block
        REFERENCING NEW TABLE AS new_blocks OLD TABLE AS old_blocks
        FOR EACH STATEMENT EXECUTE FUNCTION guidance_block_search_changed()
    """,
    """
    CREATE TRIGGER guidance_block_search_delete AFTER DELETE ON guidance_block
        REFERENCING OLD TABLE AS old_blocks
        FOR EACH STATEMENT EXECUTE FUNCTION guidance_block_search_changed()
    """,
    """
    CREATE FUNCTION guidance_block_search_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE guidance_search_document;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER guidance_block_search_truncate AFTER TRUNCATE ON guidance_block
        FOR EACH STATEMENT EXECUTE FUNCTION guidance_block_search_truncated()
    """,
    f"""
    CREATE FUNCTION guidance_search_matches(query tsquery) RETURNS SETOF bigint
    LANGUAGE sql STABLE
    -- When most documents match a common word, the planner prefers reading every row, and
    -- with it every document's words out of TOAST; the indexes answer it several times faster.
    SET enable_seqscan = off
    AS $$
        SELECT id FROM guidance_guidance
        WHERE to_tsvector(
            '{CONFIG}'::regconfig, coalesce(reference, '') || ' ' || coalesce(title, '')
        ) @@ query
        UNION
        SELECT guidance_id FROM guidance_search_document WHERE vector @@ query
    $$
    """,
    "SELECT guidance_search_document_refresh(ARRAY(SELECT id FROM guidance_guidance))",
]

BACKWARD = [
    "DROP FUNCTION guidance_search_matches(tsquery)",
    "DROP TRIGGER guidance_block_search_truncate ON guidance_block",
    "DROP TRIGGER guidance_block_search_delete ON guidance_block",
    "DROP TRIGGER guidance_block_search_update ON guidance_block",
    "DROP TRIGGER guidance_block_search_insert ON guidance_block",
    "DROP FUNCTION guidance_block_search_truncated()",
    "DROP FUNCTION guidance_block_search_changed()",
    "DROP FUNCTION guidance_search_document_refresh(bigint[])",
    "DROP TABLE guidance_search_document",
    "DROP INDEX guidance_search_vector",
]


def run(statements):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [("guidance", "0003_roles")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
