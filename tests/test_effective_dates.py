"""When a change took effect, kept apart from when it was recorded."""

import datetime
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from guidance import ledger
from guidance.history import recording
from guidance.interchange.importers import import_guidance_file
from guidance.models import ChangeSet, Guidance
from tests.factories import make_auditor, make_guidance, make_user
from tests.test_evidence_pack import rewrite, verify_without_a_database

pytestmark = pytest.mark.django_db

HTG501 = Path(__file__).resolve().parents[1] / "guidance" / "samples" / "htg501.txt"


def import_htg501():
    import_guidance_file(HTG501)
    return ChangeSet.objects.get(reason="Imported from htg501.txt")


def audit_page(client, name, reference="htg501", **query):
    client.force_login(make_auditor())
    return client.get(reverse(name, args=[reference]), query)


def verifies():
    output = io.StringIO()
    call_command("verify_history", stdout=output)
    return "no problems found" in output.getvalue()


def test_an_import_took_effect_when_the_document_says_and_was_recorded_now():
    before = timezone.now()
    change = import_htg501()
    assert change.created_at >= before
    # "Migrated to HealthTech guidance in January 2026": its latest stated event, to the month.
    assert timezone.localtime(change.effective_at).date() == datetime.date(2026, 1, 1)
    assert change.effective_precision == "month"
    assert change.effective_display == "January 2026"
    assert verifies()


def test_a_change_made_in_the_registry_takes_effect_when_recorded():
    make_guidance("HTG901")
    change = ChangeSet.objects.order_by("-sequence").first()
    assert change.effective_at == change.created_at
    assert change.took_effect_when_recorded


def test_the_effective_date_is_inside_the_digest():
    guidance = make_guidance("HTG902")
    with recording(
        user=make_user("editor"),
        reason="Recorded late: the correction was made on paper in March",
        effective_at=datetime.date(2026, 3, 2),
        effective_precision="day",
    ):
        guidance.title = "Corrected"
        guidance.save()
    change = ChangeSet.objects.order_by("-sequence").first()
    assert change.effective_display == "2 March 2026"
    assert ledger.expected_digest(change) == change.digest
    change.effective_at -= datetime.timedelta(days=1)
    assert ledger.expected_digest(change) != change.digest
    assert verifies()


def test_as_it_stood_before_the_import_is_reconstructed_from_the_documents_statements(client):
    import_htg501()
    response = audit_page(client, "audit:as-it-stood", at="2025-12-31")
    html = response.content.decode()
    assert response.status_code == 200
    assert "did not exist" not in html
    assert "Reconstructed from the document's own statements" in html
    # Published in 2019 under IPG640, not yet migrated.
    assert "Reference: IPG640" in html
    assert "Interventional procedures guidance" in html
    assert "30 January 2019" in html
    assert "was migrated to" not in html


def test_after_the_stated_migration_the_reconstruction_uses_the_new_reference(client):
    import_htg501()
    html = audit_page(client, "audit:as-it-stood", at="2026-01-20").content.decode()
    assert "Reconstructed from the document's own statements" in html
    assert "Reference: HTG501" in html


def test_before_the_stated_publication_the_document_did_not_exist(client):
    import_htg501()
    response = audit_page(client, "audit:as-it-stood", at="2019-01-29")
    assert response.status_code == 404
    assert "did not exist at that moment" in response.content.decode()


def test_a_recorded_moment_is_not_marked_as_reconstructed(client):
    change = import_htg501()
    html = audit_page(client, "audit:as-it-stood", at=change.pk).content.decode()
    assert "Reconstructed" not in html
    assert "Reference: HTG501" in html


def test_the_timeline_shows_the_stated_events_apart_from_the_recorded_changes(client):
    import_htg501()
    html = audit_page(client, "audit:timeline").content.decode()
    assert "Took effect" in html and "January 2026" in html
    stated = html[html.index("Before the record began: as the document states") :]
    assert "not recorded changes" in stated
    assert "30 January 2019</strong> (stated by the document): Published as IPG640" in stated
    assert "IPG640 migrated to HTG501" in stated
    # The recorded import comes before the stated events, not among them.
    assert "Imported from htg501.txt" not in stated


def test_the_log_filters_by_when_changes_took_effect(client):
    import_htg501()
    make_guidance("HTG903", reason="Made today")
    client.force_login(make_auditor())
    response = client.get(reverse("audit:log"), {"start": "2026-01-01", "end": "2026-01-31"})
    html = response.content.decode()
    assert "Imported from htg501.txt" in html
    assert "Made today" not in html
    assert Guidance.objects.filter(reference="HTG903").exists()


def test_the_diff_across_the_stated_migration_shows_the_new_reference(client):
    import_htg501()
    response = audit_page(client, "audit:diff", **{"from": "2025-12-31", "to": "2026-01-31"})
    html = response.content.decode()
    assert "Reconstructed from the document's own statements" in html
    assert "document: reference &#x27;IPG640&#x27; → &#x27;HTG501&#x27;" in html
    assert "name &#x27;Interventional procedures guidance&#x27; → &#x27;HealthTech guidance" in html


def test_an_evidence_pack_carries_the_effective_date_and_a_changed_one_is_named(tmp_path):
    import_htg501()
    path = tmp_path / "HTG501-evidence.zip"
    call_command("evidence_pack", "HTG501", "--output", str(path), stdout=io.StringIO())
    result = verify_without_a_database(path)
    assert result.returncode == 0, result.stdout + result.stderr

    def back_date(content):
        changes = json.loads(content)
        for change in changes:
            if change["effective_precision"] == "month":
                change["effective_at"] = "2018-01-01T00:00:00+00:00"
        return json.dumps(changes).encode()

    rewrite(path, "changes.json", back_date)
    result = verify_without_a_database(path)
    assert result.returncode != 0
    assert "who, when, why or its rows differ from its digest" in result.stdout
