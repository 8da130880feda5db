import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from guidance.history import bulk_create_with_history, recording
from guidance.models import (
    ChangeKind,
    ChangeSet,
    Guidance,
    GuidanceStatus,
    Programme,
    Relation,
    RelationType,
    UpdateEntry,
)
from tests.factories import make_document, make_guidance, make_user
from tests.snapshots import all_rows

pytestmark = pytest.mark.django_db

BULK_URL = "admin:guidance_bulk_migrate"


@pytest.fixture
def publisher(client):
    user = make_user("publisher", groups=["Publishers"], is_staff=True)
    client.force_login(user)
    return user


def upload(client, text, reason="HealthTech merger, January batch"):
    csv_file = SimpleUploadedFile("batch.csv", text.encode(), content_type="text/csv")
    return client.post(
        reverse(BULK_URL), {"csv_file": csv_file, "reason": reason, "preview": "Check"}
    )


def apply(client, text, reason="HealthTech merger, January batch"):
    return client.post(reverse(BULK_URL), {"csv_text": text, "reason": reason, "apply": "Migrate"})


def test_the_preview_says_what_each_row_will_do_and_changes_nothing(client, publisher):
    make_document("IPG640", title="Venoplasty")
    make_document("MTG20", title="A device")
    before = all_rows()

    response = upload(
        client, "old reference,new reference,month\nIPG640,HTG501,2026-01\nmtg20, HTG355 ,2025-12\n"
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Migrate “Venoplasty”" in content and "Migrate “A device”" in content
    assert "HTG355" in content and "December 2025" in content
    assert 'name="apply"' in content
    assert all_rows() == before


def test_every_problem_is_listed_with_its_row_number(client, publisher):
    make_document("IPG640")
    make_document("IPG641")
    make_document("IPG642")
    make_guidance("HTG501")
    text = "\n".join(
        [
            "old,new,month",
            "IPG640,HTG501,2026-01",  # 2: new reference exists
            "IPG999,HTG502,2026-01",  # 3: no such guidance
            "IPG641,HTG503,Jan 2026",  # 4: bad month
            "IPG642,HTG504",  # 5: missing column
            "IPG641,HTG503,2026-01",  # 6: fine on its own
            "IPG642,HTG503,2026-01",  # 7: new reference twice
            "IPG643,501HTG,2026-01",  # 8: malformed
        ]
    )
    response = upload(client, text)

    problems = dict(response.context["plan"].problems)
    assert problems[2] == "HTG501 already exists."
    assert problems[3] == "There is no guidance IPG999."
    assert "is not a month" in problems[4]
    assert "Expected 3 columns" in problems[5]
    assert problems[7] == "HTG503 is also on row 6."
    assert "is not a reference" in problems[8]
    assert 6 not in problems
    content = response.content.decode()
    assert "Row 2: HTG501 already exists." in content
    assert 'name="apply"' not in content


def test_a_file_with_a_bad_row_applies_nothing(client, publisher):
    make_document("IPG640")
    make_guidance("HTG502")
    make_document("IPG641")
    before = all_rows()

    response = apply(client, "IPG640,HTG501,2026-01\nIPG641,HTG502,2026-01\n")

    assert response.status_code == 200
    assert "Nothing was migrated" in response.content.decode()
    assert all_rows() == before


def test_a_failure_at_the_end_of_applying_leaves_every_table_as_it_was(
    client, publisher, monkeypatch
):
    from guidance.editorial import services  # noqa: PLC0415

    make_document("IPG640")
    make_document("IPG641")
    before = all_rows()

    def fail(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(services, "_add_update_entries", fail)
    with pytest.raises(RuntimeError):
        apply(client, "IPG640,HTG501,2026-01\nIPG641,HTG502,2026-01\n")
    assert all_rows() == before


def make_many(count):
    programme = Programme.objects.get(code="IPG")
    with recording(reason="Test data"):
        bulk_create_with_history(
            [
                Guidance(
                    reference=f"IPG{n}",
                    programme=programme,
                    number=n,
                    title=f"Procedure {n}",
                    status=GuidanceStatus.PUBLISHED,
                )
                for n in range(1, count + 1)
            ],
            Guidance,
        )


def test_a_thousand_rows_apply_as_one_change_with_full_history(
    client, publisher, django_assert_max_num_queries
):
    make_many(1000)
    text = "\n".join(f"IPG{n},HTG{n + 2000},2026-01" for n in range(1, 1001))

    with django_assert_max_num_queries(80):
        response = apply(client, text)

    assert response.status_code == 302
    change = ChangeSet.objects.get(reason="HealthTech merger, January batch")
    assert change.user == publisher and change.kind == ChangeKind.MINOR
    assert Guidance.history.filter(change_set_id=change.id, history_type="~").count() == 1000
    assert Guidance.history.filter(change_set_id=change.id, history_type="+").count() == 1000
    assert Relation.history.filter(change_set_id=change.id).count() == 1000
    assert UpdateEntry.history.filter(change_set_id=change.id).count() == 1000
    moved = Guidance.objects.get(reference="HTG2500")
    assert moved.title == "Procedure 500"
    former = Guidance.objects.get(reference="IPG500")
    assert former.is_stub
    assert former.relations.get().type == RelationType.MIGRATED_TO
    assert former.relations.get().target == moved
    assert moved.update_entries.get().text.startswith(
        "Interventional procedures guidance 500 has been migrated to HealthTech guidance 2500."
    )


def test_only_publishers_may_bulk_migrate(client):
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))
    assert client.get(reverse(BULK_URL)).status_code == 403
