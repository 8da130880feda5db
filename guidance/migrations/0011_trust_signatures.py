"""Sign every change; record who by name and the columns sealed; triggers for every session.

Changes recorded before this migration keep format 1: they were sealed unsigned, and their
rows are hashed over the columns the tables had then (guidance.proof.LEGACY_ROW_FIELDS).
If there are any, this migration seals one signed change after them: its signature covers
the digest of the last of them, so the whole older chain is signed through it. From then on
verification names any unsigned change as forged, so no new change can pass for an old one.
"""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

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


def enable_always(apps, schema_editor):
    ledger.install_append_only(schema_editor.connection, _tables(apps))


def sign_from_here(apps, schema_editor):
    change_set_model = apps.get_model("guidance", "ChangeSet")
    unsigned = change_set_model.objects.count()
    if not unsigned:
        return
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    system, _ = user_model.objects.get_or_create(
        username="system", defaults={"first_name": "System", "is_active": False}
    )
    change_set = change_set_model(
        created_at=max(timezone.now(), ledger.chain_head(change_set_model).created_at),
        user=system,
        reason=(
            f"History is signed from here on: changes 1 to {unsigned} were sealed before "
            "signing existed, and this signature covers them through the chain."
        ),
        source="system",
    )
    ledger.seal(change_set, models=[])
    change_set.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [("guidance", "0010_editions_and_review")]

    operations = [
        migrations.AddField(
            model_name="changeset",
            name="format",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="changeset",
            name="format",
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.AddField(
            model_name="changeset",
            name="row_fields",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="changeset",
            name="username",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="changeset",
            name="user_display_name",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="changeset",
            name="key_id",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name="changeset",
            name="signature",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AlterModelOptions(
            name="changeset",
            options={"get_latest_by": "sequence", "ordering": ["-sequence"]},
        ),
        migrations.RunPython(enable_always, migrations.RunPython.noop),
        migrations.RunPython(sign_from_here, migrations.RunPython.noop),
    ]
