import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from guidance import ledger
from guidance.editorial import services
from guidance.models import (
    ChangeKind,
    ChangeSet,
    DatePrecision,
    Guidance,
    GuidanceStatus,
    RefusedChange,
    Relation,
    RelationType,
    UpdateEntry,
)
from tests.factories import make_document, make_guidance, make_relation, make_user
from tests.snapshots import all_rows

pytestmark = pytest.mark.django_db

IPG640_WORDING = (
    "Interventional procedures guidance 640 has been migrated to HealthTech guidance 501. "
    "The recommendations and accompanying content remain unchanged."
)


@pytest.fixture
def publisher(client):
    user = make_user("publisher", groups=["Publishers"], is_staff=True, first_name="Pat")
    client.force_login(user)
    return user


def url(name, guidance):
    return reverse(f"admin:guidance_{name}", args=[guidance.pk])


def migrate(client, guidance, programme, number, month="2026-01", reason="HealthTech merger"):
    return client.post(
        url("migrate", guidance),
        {"programme": programme, "number": number, "month": month, "reason": reason},
    )


def test_a_publisher_migrates_a_sample_to_a_new_reference_in_one_change(client, publisher):
    call_command("load_samples", verbosity=0)
    document = Guidance.objects.get(reference="MTG1")
    published = document.published_on

    assert client.get(url("migrate", document)).status_code == 200
    response = migrate(client, document, "HTG", "355", month="2025-12")

    assert response.status_code == 302
    document.refresh_from_db()
    assert document.reference == "HTG355"
    assert document.programme.code == "HTG"
    assert document.published_on == published
    assert document.last_updated_on is None
    assert document.chapters.count() == 3
    former = Guidance.objects.get(reference="MTG1")
    assert former.is_stub and former.status == GuidanceStatus.PUBLISHED
    relation = Relation.objects.get(source=former)
    assert relation.type == RelationType.MIGRATED_TO and relation.target == document
    assert (relation.effective_on, relation.effective_precision) == (
        datetime.date(2025, 12, 1),
        DatePrecision.MONTH,
    )
    entry = document.update_entries.get()
    assert entry.kind == ChangeKind.MINOR
    assert entry.text == (
        "Medical technologies guidance 1 has been migrated to HealthTech guidance 355. "
        "The recommendations and accompanying content remain unchanged."
    )
    change = ChangeSet.objects.get(reason="HealthTech merger")
    assert (change.user, change.kind, change.guidance) == (publisher, ChangeKind.MINOR, document)
    assert Guidance.history.filter(change_set_id=change.id).count() == 2
    assert Relation.history.filter(change_set_id=change.id).count() == 1
    assert UpdateEntry.history.filter(change_set_id=change.id).count() == 1
    assert client.get("/guidance/mtg1/").headers["Location"] == "/guidance/htg355/"


def test_migration_uses_nices_wording_with_the_programme_names(client, publisher):
    document = make_document("IPG640")
    migrate(client, document, "HTG", "501")
    assert document.update_entries.get().text == IPG640_WORDING
    assert Relation.objects.get(target=document).note == IPG640_WORDING


def test_a_document_keeps_its_id_and_history_through_two_migrations(client, publisher):
    document = make_document("MTG20")
    services.migrate_guidance(
        guidance=document,
        new_reference="TA90",
        month=datetime.date(2024, 1, 1),
        user=publisher,
        reason="First move",
    )
    migrate(client, document, "HTG", "355")
    document.refresh_from_db()
    assert document.reference == "HTG355"
    formers = Relation.objects.filter(target=document, type=RelationType.MIGRATED_TO)
    assert {r.source.reference for r in formers} == {"MTG20", "TA90"}
    assert [h.reference for h in document.history.order_by("history_id")][-3:] == [
        "MTG20",
        "TA90",
        "HTG355",
    ]


def test_migrating_to_a_reference_that_exists_is_refused_with_nothing_changed(client, publisher):
    document = make_document("IPG640")
    make_guidance("HTG501")
    before = all_rows()

    response = migrate(client, document, "HTG", "501")

    assert response.status_code == 200
    assert "HTG501 already exists" in response.content.decode()
    assert all_rows() == before


@pytest.mark.parametrize(
    ("programme", "number", "message"),
    [
        ("HTG", "abc", "Enter a whole number."),
        ("HTG", "0", "greater than or equal to 1"),
        ("XYZ", "5", "Select a valid choice"),
        ("IPG", "5", "Select a valid choice"),  # IPG no longer publishes
        ("HTG", "5", "Enter a month as YYYY-MM"),
    ],
)
def test_a_malformed_new_reference_is_refused_clearly(
    client, publisher, programme, number, message
):
    document = make_document("IPG640")
    month = "January" if message.startswith("Enter a month") else "2026-01"
    response = migrate(client, document, programme, number, month=month)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Guidance.objects.get(pk=document.pk).reference == "IPG640"


def test_a_malformed_reference_is_refused_by_the_service():
    document = make_document("IPG640")
    with pytest.raises(RefusedChange, match="is not a guidance reference"):
        services.migrate_guidance(
            guidance=document,
            new_reference="HTG-",
            month=datetime.date(2026, 1, 1),
            user=None,
            reason="x",
        )


def test_a_former_reference_cannot_be_migrated_again(client, publisher):
    document = make_document("HTG501")
    former = make_guidance("IPG640", is_stub=True)
    make_relation(former, "migrated-to", document)
    response = migrate(client, former, "HTG", "900")
    assert "migrate the document itself" in response.content.decode()


def test_an_editor_cannot_migrate_replace_or_change_status(client):
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))
    document = make_document("IPG640")
    for name in ("migrate", "replace", "status"):
        assert client.get(url(name, document)).status_code == 403
    assert migrate(client, document, "HTG", "501").status_code == 403
    assert Guidance.objects.get(pk=document.pk).reference == "IPG640"


def test_a_publisher_records_a_replacement_and_the_older_page_says_so(client, publisher):
    newer = make_document("IPG508", title="Newer")
    older = make_document("IPG346", title="Older")
    response = client.post(
        url("replace", newer),
        {"replaced": "ipg346", "effective_on": "2014-12", "reason": "Guidance updated"},
    )
    assert response.status_code == 302
    relation = Relation.objects.get(source=newer, target=older)
    assert relation.type == RelationType.REPLACES
    assert ChangeSet.objects.get(reason="Guidance updated").user == publisher
    assert Guidance.objects.get(pk=older.pk).status == GuidanceStatus.PUBLISHED
    page = client.get(older.get_absolute_url()).content.decode()
    assert "updated and replaced by" in page


def test_self_replacement_is_refused(client, publisher):
    document = make_document("IPG508")
    response = client.post(url("replace", document), {"replaced": "IPG508", "reason": "x"})
    assert "IPG508 cannot replace itself." in response.content.decode()
    assert not Relation.objects.exists()


@pytest.mark.parametrize("partially", [False, True])
def test_a_replacement_that_closes_a_circle_is_refused(client, publisher, partially):
    a, b, c = make_document("NG1"), make_document("NG2"), make_document("NG3")
    make_relation(a, "replaces", b)
    make_relation(b, "partially-replaces", c)
    data = {"replaced": "NG1", "reason": "x"} | ({"partially": "on"} if partially else {})

    for source in (b, c):
        response = client.post(url("replace", source), data)
        assert response.status_code == 200
        assert "cannot go round in a circle" in response.content.decode()
    assert Relation.objects.count() == 2


def test_a_circle_through_the_relations_inline_is_refused_too(client, publisher):
    a, b = make_document("NG1"), make_document("NG2")
    make_relation(a, "replaces", b)
    with pytest.raises(RefusedChange):
        services.check_relation(source=b, target=a, relation_type=RelationType.REPLACES)


def change_status(client, guidance, action, reason="Decided by committee", explanation=""):
    return client.post(
        url("status", guidance),
        {"action": action, "reason": reason, "explanation": explanation},
    )


def test_publish_withdraw_and_reinstate_are_recorded_with_reasons(client, publisher):
    document = make_document("HTG700", status=GuidanceStatus.DRAFT)

    assert change_status(client, document, "publish", reason="Approved").status_code == 302
    document.refresh_from_db()
    assert document.status == GuidanceStatus.PUBLISHED
    assert document.published_on is not None

    response = change_status(client, document, "withdraw", reason="Safety")
    assert "A withdrawal needs a public explanation." in response.content.decode()
    assert Guidance.objects.get(pk=document.pk).status == GuidanceStatus.PUBLISHED

    change_status(
        client, document, "withdraw-temporarily", reason="Safety", explanation="Under review."
    )
    document.refresh_from_db()
    assert document.status == GuidanceStatus.TEMPORARILY_WITHDRAWN
    assert document.status_explanation == "Under review."
    assert "Under review." in client.get(document.get_absolute_url()).content.decode()

    change_status(client, document, "reinstate", reason="Review finished")
    document.refresh_from_db()
    assert document.status == GuidanceStatus.PUBLISHED
    reasons = list(
        ChangeSet.objects.filter(guidance=document)
        .order_by("sequence")
        .values_list("reason", flat=True)
    )
    assert reasons == ["Approved", "Safety", "Review finished"]


def test_a_status_change_needs_a_reason(client, publisher):
    document = make_document("HTG700", status=GuidanceStatus.DRAFT)
    response = change_status(client, document, "publish", reason="")
    assert "Say why you are making this change." in response.content.decode()
    assert Guidance.objects.get(pk=document.pk).status == GuidanceStatus.DRAFT


def test_list_actions_publish_and_withdraw_with_the_reason_from_the_action_bar(client, publisher):
    drafts = [make_guidance(f"HTG{n}", status=GuidanceStatus.DRAFT) for n in (701, 702)]
    changelist = reverse("admin:guidance_guidance_changelist")
    selected = [str(d.pk) for d in drafts]

    client.post(changelist, {"action": "publish", "_selected_action": selected, "reason": ""})
    assert not Guidance.objects.filter(status=GuidanceStatus.PUBLISHED, pk__in=selected).exists()

    client.post(
        changelist, {"action": "publish", "_selected_action": selected, "reason": "Approved"}
    )
    assert Guidance.objects.filter(status=GuidanceStatus.PUBLISHED, pk__in=selected).count() == 2

    response = client.post(
        changelist,
        {"action": "withdraw", "_selected_action": selected, "reason": "Old"},
        follow=True,
    )
    assert "A withdrawal needs a public explanation." in response.content.decode()
    client.post(
        changelist,
        {
            "action": "withdraw",
            "_selected_action": selected,
            "reason": "Old",
            "explanation": "No longer current.",
        },
    )
    assert Guidance.objects.filter(status=GuidanceStatus.WITHDRAWN).count() == 2


def test_an_editor_sees_no_status_actions(client):
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))
    make_guidance("HTG701", status=GuidanceStatus.DRAFT)
    response = client.get(reverse("admin:guidance_guidance_changelist"))
    content = response.content.decode()
    assert 'value="publish"' not in content and 'value="withdraw"' not in content


def fail(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize("last_step", ["update entry", "sealing the change"])
def test_a_failure_in_the_last_step_of_a_migration_leaves_every_table_as_it_was(
    client, publisher, monkeypatch, last_step
):
    document = make_document("IPG640")
    before = all_rows()
    if last_step == "update entry":
        monkeypatch.setattr(services, "_add_update_entry", fail)
    else:
        monkeypatch.setattr(ledger, "seal", fail)

    with pytest.raises(RuntimeError, match="injected failure"):
        services.migrate_guidance(
            guidance=document,
            new_reference="HTG501",
            month=datetime.date(2026, 1, 1),
            user=publisher,
            reason="Merger",
        )
    assert all_rows() == before


@pytest.mark.parametrize("action", ["replace", "withdraw", "publish"])
def test_a_failure_at_the_end_of_any_workflow_leaves_every_table_as_it_was(
    publisher, monkeypatch, action
):
    newer = make_document("IPG508", status=GuidanceStatus.DRAFT)
    older = make_document("IPG346")
    before = all_rows()
    monkeypatch.setattr(ledger, "seal", fail)

    with pytest.raises(RuntimeError, match="injected failure"):
        if action == "replace":
            services.replace_guidance(guidance=newer, replaced=older, user=publisher, reason="x")
        elif action == "withdraw":
            older.withdraw(by=publisher, reason="x", explanation="Gone.")
        else:
            newer.publish(by=publisher, reason="x")
    assert all_rows() == before


def test_replacing_a_reference_not_yet_held_records_it_as_a_stub(client, publisher):
    newer = make_document("HTG600")
    response = client.post(url("replace", newer), {"replaced": "ipg99", "reason": "Notice"})
    assert response.status_code == 302
    stub = Guidance.objects.get(reference="IPG99")
    assert stub.is_stub and stub.status == GuidanceStatus.PUBLISHED
    assert Relation.objects.get(source=newer).target == stub
    change = ChangeSet.objects.get(reason="Notice")
    assert Guidance.history.filter(change_set_id=change.id).count() == 1


def test_replacing_a_reference_of_an_unknown_programme_is_refused(client, publisher):
    newer = make_document("HTG600")
    response = client.post(url("replace", newer), {"replaced": "XYZ1", "reason": "Notice"})
    assert "There is no programme XYZ" in response.content.decode()
    assert not Relation.objects.exists()
