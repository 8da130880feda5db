"""Full-text search indexes for the public guidance search (PostgreSQL only).

The expressions are the ones GuidanceQuerySet.search() filters on, so that PostgreSQL can
answer a search from the indexes at any number of documents. Other databases have no such
index; their search falls back to substring matching.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

SEARCH_CONFIG = "english"

INDEXES = [
    ("Guidance", GinIndex(SearchVector("reference", "title", config=SEARCH_CONFIG), name="guidance_search_vector")),
    ("Block", GinIndex(SearchVector("text", config=SEARCH_CONFIG), name="block_search_vector")),
]


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in INDEXES:
        schema_editor.add_index(apps.get_model("guidance", model_name), index)


def remove_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, index in INDEXES:
        schema_editor.remove_index(apps.get_model("guidance", model_name), index)


class Migration(migrations.Migration):
    dependencies = [("guidance", "0003_roles")]

    operations = [migrations.RunPython(add_indexes, remove_indexes)]
