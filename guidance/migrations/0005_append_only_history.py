"""Make history append-only: the database refuses to update, delete or truncate it.

Every history table and the change table get triggers that raise an error on UPDATE and
DELETE (and TRUNCATE on PostgreSQL). ``guidance.ledger`` puts them back after any later
migrate, so a table rebuilt by a future migration stays protected.
"""

from django.db import migrations

from guidance import ledger


def _tables(apps):
    return ledger.append_only_tables(
        sorted(
            (
                model
                for model in apps.get_app_config("guidance").get_models()
                if model.__name__.startswith("Historical")
            ),
            key=lambda model: model._meta.db_table,
        )
    )


def install(apps, schema_editor):
    ledger.install_append_only(schema_editor.connection, _tables(apps))


def remove(apps, schema_editor):
    ledger.remove_append_only(schema_editor.connection, _tables(apps))


class Migration(migrations.Migration):
    dependencies = [("guidance", "0004_search")]

    operations = [migrations.RunPython(install, remove)]
