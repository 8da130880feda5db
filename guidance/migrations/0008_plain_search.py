"""Search with django.contrib.postgres.search instead of SQL written by hand.

- The index on the words of each document's reference and title becomes a GinIndex over
  SearchVector("reference", "title"), the expression the search queries with
  (models.reference_and_title_words; a PostgreSQL test checks the search uses the index).
  PostgreSQL only, so it is made here and not declared in the model's Meta, where SQLite
  would be asked to make it whenever a migration rebuilds the table.
- guidance_search_document (migration 0004: the words of every paragraph of a document, kept by
  triggers on the blocks) is read through the unmanaged model SearchDocument, so
  guidance_search_matches(), which only wrapped the two lookups in SQL, goes.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

INDEX = django.contrib.postgres.indexes.GinIndex(
    django.contrib.postgres.search.SearchVector("reference", "title", config="english"),
    fastupdate=False,
    name="guidance_search_words",
)

# As migration 0004 made them, for going back.
OLD_INDEX = """
    CREATE INDEX guidance_search_vector ON guidance_guidance USING gin (
        to_tsvector('english'::regconfig, coalesce(reference, '') || ' ' || coalesce(title, ''))
    ) WITH (fastupdate = off)
"""
OLD_FUNCTION = """
    CREATE FUNCTION guidance_search_matches(query tsquery) RETURNS SETOF bigint
    LANGUAGE sql STABLE
    SET enable_seqscan = off
    AS $$
        SELECT id FROM guidance_guidance
        WHERE to_tsvector(
            'english'::regconfig, coalesce(reference, '') || ' ' || coalesce(title, '')
        ) @@ query
        UNION
        SELECT guidance_id FROM guidance_search_document WHERE vector @@ query
    $$
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP FUNCTION guidance_search_matches(tsquery)")
    schema_editor.execute("DROP INDEX guidance_search_vector")
    schema_editor.add_index(apps.get_model("guidance", "Guidance"), INDEX)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_index(apps.get_model("guidance", "Guidance"), INDEX)
    schema_editor.execute(OLD_INDEX)
    schema_editor.execute(OLD_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("guidance", "0007_guidance_summary")]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                (
                    "guidance",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="guidance.guidance",
                    ),
                ),
                (
                    "words",
                    django.contrib.postgres.search.SearchVectorField(db_column="vector"),
                ),
            ],
            options={"db_table": "guidance_search_document", "managed": False},
        ),
        migrations.RunPython(forward, backward),
    ]
