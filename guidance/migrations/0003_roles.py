"""The three roles of the registry, as groups with exactly the permissions they need."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PARTS = ["chapter", "block", "recommendation", "endorsement", "updateentry"]

EDITORS = (
    [f"{action}_guidance" for action in ("add", "change", "delete", "view")]
    + [f"{action}_{model}" for model in PARTS for action in ("add", "change", "delete", "view")]
    + ["add_organisation", "change_organisation", "view_organisation"]
    + ["view_relation", "view_programme", "view_responsibilitystatement", "view_changeset"]
)

PUBLISHERS = EDITORS + [
    "publish_guidance",
    "migrate_guidance",
    "add_relation",
    "change_relation",
    "delete_relation",
    "add_programme",
    "change_programme",
    "add_responsibilitystatement",
    "change_responsibilitystatement",
]


def create_roles(apps, schema_editor):
    # On a fresh database the permissions are only created after all migrations ran.
    app_config = apps.get_app_config("guidance")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="guidance")

    def grant(name, codenames):
        group, _ = Group.objects.get_or_create(name=name)
        permissions = list(ours.filter(codename__in=codenames))
        missing = set(codenames) - {permission.codename for permission in permissions}
        if missing:
            raise RuntimeError(f"Permissions missing for {name}: {sorted(missing)}")
        group.permissions.set(permissions)

    grant("Editors", EDITORS)
    grant("Publishers", PUBLISHERS)
    grant(
        "Auditors",
        list(ours.filter(codename__startswith="view_").values_list("codename", flat=True)),
    )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Editors", "Publishers", "Auditors"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("guidance", "0002_programmes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
