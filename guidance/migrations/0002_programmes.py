"""Load NICE's programmes, with history written by the system account."""

import uuid

from django.db import migrations
from django.utils import timezone

from guidance import ledger

PROGRAMMES = [
    # (prefix, name, recommendation vocabulary, still publishing)
    ("IPG", "Interventional procedures guidance", "interventional", False),
    ("HTG", "HealthTech guidance", "healthtech", True),
    ("MTG", "Medical technologies guidance", "medtech", False),
    ("DG", "Diagnostics guidance", "appraisal", False),
    ("TA", "Technology appraisal guidance", "appraisal", True),
    ("HST", "Highly specialised technologies guidance", "appraisal", True),
    ("NG", "NICE guideline", "guideline", True),
    ("CG", "Clinical guideline", "guideline", False),
    ("PH", "Public health guideline", "guideline", False),
    ("SC", "Social care guideline", "guideline", False),
    ("QS", "Quality standard", "none", True),
    ("ES", "Evidence summary", "none", False),
    ("MIB", "Medtech innovation briefing", "none", False),
]


def load_programmes(apps, schema_editor):
    User = apps.get_model("auth", "User")
    ChangeSet = apps.get_model("guidance", "ChangeSet")
    Programme = apps.get_model("guidance", "Programme")
    HistoricalProgramme = apps.get_model("guidance", "HistoricalProgramme")

    system, _ = User.objects.get_or_create(
        username="system", defaults={"first_name": "System", "is_active": False}
    )
    now = timezone.now()
    change_set = ChangeSet(
        id=uuid.uuid4(),
        created_at=now,
        user=system,
        reason="Loaded NICE's programmes",
        source="system",
    )
    for code, name, vocabulary, is_active in PROGRAMMES:
        programme = Programme.objects.create(
            code=code, name=name, recommendation_vocabulary=vocabulary, is_active=is_active
        )
        HistoricalProgramme.objects.create(
            id=programme.id,
            code=code,
            name=name,
            recommendation_vocabulary=vocabulary,
            is_active=is_active,
            history_date=now,
            history_type="+",
            history_user=system,
            history_change_reason=change_set.reason,
            change_set_id=change_set.id,
        )
    ledger.seal(change_set, models=[HistoricalProgramme])
    change_set.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [("guidance", "0001_initial")]

    operations = [migrations.RunPython(load_programmes, migrations.RunPython.noop)]
