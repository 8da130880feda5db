"""Rows the data migrations load, for tests that commit (their tables are emptied afterwards)."""

import importlib

from django.apps import apps

from guidance.history import recording
from guidance.models import Programme

PROGRAMMES_MIGRATION = importlib.import_module("guidance.migrations.0002_programmes")
ROLES_MIGRATION = importlib.import_module("guidance.migrations.0003_roles")


def restore_reference_data():
    if not Programme.objects.exists():
        with recording(reason="Programmes for the test"):
            for code, name, vocabulary, is_active in PROGRAMMES_MIGRATION.PROGRAMMES:
                Programme.objects.create(
                    code=code, name=name, recommendation_vocabulary=vocabulary, is_active=is_active
                )
    ROLES_MIGRATION.create_roles(apps, None)
