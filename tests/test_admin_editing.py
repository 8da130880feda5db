import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from guidance.editions import publish_edition
from guidance.models import (
    ChangeKind,
    ChangeSet,
    Chapter,
    DatePrecision,
    Guidance,
    GuidanceStatus,
    UpdateEntry,
)
from tests.admin_forms import change_form_data
from tests.factories import make_document, make_guidance, make_relation, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    user = make_user("editor", groups=["Editors"], is_staff=True, first_name="Ed", last_name="Itor")
    client.force_login(user)
    return user


def change_url(guidance):
    return reverse("admin:guidance_guidance_change", args=[guidance.pk])


def draft_edition(client, guidance):
    """Open the draft edition of published guidance as an editor does ('Edit in a draft')."""
    response = client.post(reverse("admin:guidance_edition", args=[guidance.pk]))
    assert response.status_code == 302
    return Guidance.with_editions.get(edition_of=guidance)


def test_a_save_without_a_reason_is_refused_and_changes_nothing(client, editor):
    guidance = make_document("HTG501")
    page = client.get(change_url(guidance))
    response = client.post(change_url(guidance), change_form_data(page, title="New title"))

    assert response.status_code == 200
    assert "Say why you are making this change." in response.content.decode()
    assert Guidance.objects.get(pk=guidance.pk).title == "Guidance HTG501"


def test_one_save_puts_the_record_and_its_inline_rows_in_one_change(client, editor):
    guidance = make_document("HTG501", chapters=2, paragraphs=2, recommendations=1)
    edition = draft_edition(client, guidance)
    page = client.get(change_url(edition))
    data = change_form_data(
        page,
        title="Reworded title",
        change_reason="Fixed typos found by a reader",
        change_kind="minor",
        **{"chapters-0-title": "Reworded chapter", "chapters-1-title": "Reworded."},
    )
    response = client.post(change_url(edition), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    change = ChangeSet.objects.get(reason="Fixed typos found by a reader")
    assert change.user == editor
    assert change.kind == ChangeKind.MINOR
    # A save of published guidance is a draft save, about the published document.
    assert change.source == ChangeSet.Source.DRAFT
    assert change.guidance == guidance
    assert Guidance.objects.get(pk=guidance.pk).title == "Guidance HTG501"
    assert Guidance.history.filter(change_set_id=change.id).count() == 1
    block_rows = Chapter.history.filter(change_set_id=change.id)
    assert sorted(row.title for row in block_rows) == ["Reworded chapter", "Reworded."]
    assert all(row.history_user == editor for row in block_rows)
    assert all(row.history_change_reason == "Fixed typos found by a reader" for row in block_rows)


def test_a_minor_change_leaves_last_updated_alone(client, editor):
    guidance = make_document("HTG501")
    edition = draft_edition(client, guidance)
    page = client.get(change_url(edition))
    client.post(
        change_url(edition),
        change_form_data(page, title="T", change_reason="Typo", change_kind="minor"),
    )
    publish_edition(edition=edition, user=editor, reason="Approved")
    guidance.refresh_from_db()
    assert guidance.title == "T"
    assert guidance.last_updated_on is None
    assert not guidance.update_entries.exists()


def test_a_major_change_to_published_guidance_needs_update_wording(client, editor):
    guidance = make_document("HTG501")
    edition = draft_edition(client, guidance)
    page = client.get(change_url(edition))
    response = client.post(
        change_url(edition),
        change_form_data(page, title="T", change_reason="New evidence", change_kind="major"),
    )
    assert response.status_code == 200
    assert "needs its update-information wording" in response.content.decode()
    assert Guidance.objects.get(pk=guidance.pk).title == "Guidance HTG501"


def test_a_major_change_sets_last_updated_and_adds_the_editors_entry_when_published(client, editor):
    guidance = make_document("HTG501")
    edition = draft_edition(client, guidance)
    page = client.get(change_url(edition))
    response = client.post(
        change_url(edition),
        change_form_data(
            page,
            title="T",
            change_reason="New evidence",
            change_kind="major",
            update_text="Recommendation 1.1 was updated after new evidence.",
        ),
    )
    assert response.status_code == 302
    # 'Last updated' and update information come from publication, not from the draft save.
    guidance.refresh_from_db()
    assert guidance.last_updated_on is None
    assert not guidance.update_entries.exists()
    assert ChangeSet.objects.get(reason="New evidence").kind == ChangeKind.MAJOR

    publish_edition(edition=edition, user=editor, reason="Approved")
    guidance.refresh_from_db()
    today = timezone.localdate()
    assert guidance.title == "T"
    assert guidance.last_updated_on == today
    assert guidance.last_updated_precision == DatePrecision.DAY
    entry = guidance.update_entries.get()
    assert entry.kind == ChangeKind.MAJOR
    assert entry.text == "Recommendation 1.1 was updated after new evidence."
    assert entry.date == today.replace(day=1)
    change = ChangeSet.objects.get(reason="Approved")
    assert change.kind == ChangeKind.MAJOR
    assert change.source == ChangeSet.Source.PUBLICATION
    assert UpdateEntry.history.filter(change_set_id=change.id).count() == 1


def test_a_major_change_to_a_draft_does_not_set_last_updated(client, editor):
    guidance = make_guidance("HTG600", status=GuidanceStatus.DRAFT)
    page = client.get(change_url(guidance))
    client.post(
        change_url(guidance),
        change_form_data(page, title="T", change_reason="Draft work", change_kind="major"),
    )
    guidance.refresh_from_db()
    assert guidance.title == "T"
    assert guidance.last_updated_on is None


def test_an_editor_adds_a_draft_from_programme_and_number(client, editor):
    response = client.post(
        reverse("admin:guidance_guidance_add"),
        {
            "programme": str(programme_id("HTG")),
            "number": "0777",
            "title": "A new procedure",
            "published_precision": "day",
            "minor_changes_heading": "Minor changes since publication",
            "change_reason": "New topic",
            **empty_inlines(),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    guidance = Guidance.objects.get(reference="HTG777")
    assert guidance.status == GuidanceStatus.DRAFT
    assert ChangeSet.objects.get(reason="New topic").user == editor


def test_adding_a_reference_that_exists_is_refused(client, editor):
    make_guidance("HTG777")
    response = client.post(
        reverse("admin:guidance_guidance_add"),
        {
            "programme": str(programme_id("HTG")),
            "number": "777",
            "title": "Again",
            "published_precision": "day",
            "minor_changes_heading": "Minor changes since publication",
            "change_reason": "New topic",
            **empty_inlines(),
        },
    )
    assert response.status_code == 200
    assert "HTG777 already exists" in response.content.decode()


def test_search_finds_guidance_by_former_reference_and_title(client, editor):
    document = make_document("HTG501", title="Percutaneous venoplasty")
    former = make_guidance("IPG640", is_stub=True)
    make_relation(former, "migrated-to", document)
    make_document("HTG502", title="Something else")
    changelist = reverse("admin:guidance_guidance_changelist")

    by_former = client.get(changelist, {"q": "ipg640"}).context["cl"].result_list
    by_title = client.get(changelist, {"q": "venoplasty"}).context["cl"].result_list

    assert document in by_former
    assert [g.reference for g in by_title] == ["HTG501"]


def test_the_change_list_runs_the_same_number_of_queries_for_3_or_60_rows(client, editor):
    changelist = reverse("admin:guidance_guidance_changelist")

    def queries_for(count):
        for n in range(Guidance.objects.count(), count):
            make_guidance(f"HTG{100 + n}", last_updated_on=datetime.date(2025, 1, 1))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(changelist, {"q": "HTG"})
        assert response.context["cl"].result_count == count
        return len(queries)

    assert queries_for(3) == queries_for(60)


def test_the_change_list_shows_the_columns_editors_need(client, editor):
    make_guidance("HTG501", title="Venoplasty", last_updated_on=datetime.date(2026, 2, 3))
    content = client.get(reverse("admin:guidance_guidance_changelist")).content.decode()
    for text in ("HTG501", "Venoplasty", "HealthTech guidance", "Published", "30 January 2019"):
        assert text in content


def programme_id(code):
    from guidance.models import Programme  # noqa: PLC0415

    return Programme.objects.get(code=code).pk


def empty_inlines():
    data = {}
    prefixes = ("chapters", "blocks", "recommendations", "endorsements", "update_entries")
    for prefix in (*prefixes, "relations"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def test_other_records_ask_for_a_reason_too(client, editor):
    add = reverse("admin:guidance_organisation_add")
    refused = client.post(add, {"name": "Healthcare Improvement Scotland"})
    assert "Say why you are making this change." in refused.content.decode()

    client.post(add, {"name": "Healthcare Improvement Scotland", "change_reason": "Endorser"})
    change = ChangeSet.objects.get(reason="Endorser")
    assert change.user == editor and change.source == ChangeSet.Source.ADMIN


def test_an_organisation_added_from_the_endorsement_popup_is_recorded(client, editor):
    response = client.post(
        reverse("admin:guidance_organisation_add") + "?_popup=1",
        {"name": "Health and Care Wales", "change_reason": "New endorser", "_popup": "1"},
    )
    assert response.status_code == 200
    assert ChangeSet.objects.filter(reason="New endorser").count() == 1


def test_a_replacement_circle_added_through_the_relations_inline_is_refused(client):
    client.force_login(make_user("publisher", groups=["Publishers"], is_staff=True))
    a, b = make_document("NG1"), make_document("NG2")
    make_relation(a, "replaces", b)
    page = client.get(change_url(b))
    data = change_form_data(
        page,
        change_reason="Record replacement",
        **{
            "relations-TOTAL_FORMS": "1",
            "relations-0-type": "replaces",
            "relations-0-target": str(a.pk),
            "relations-0-effective_precision": "month",
            "relations-0-position": "0",
        },
    )
    response = client.post(change_url(b), data)
    assert response.status_code == 200
    assert "cannot go round in a circle" in response.content.decode()
    assert not b.relations.exists()


def test_an_editor_saves_guidance_whose_relations_they_may_only_read(client, editor):
    document = make_document("HTG501")
    make_relation(document, "replaces", make_guidance("IPG420", is_stub=True))
    edition = draft_edition(client, document)
    page = client.get(change_url(edition))
    response = client.post(
        change_url(edition), change_form_data(page, title="T", change_reason="Typo")
    )
    assert response.status_code == 302
    assert Guidance.with_editions.get(pk=edition.pk).title == "T"
    assert document.relations.count() == 1


@pytest.mark.parametrize("role", ["Editors", "Publishers"])
@pytest.mark.parametrize("reference", ["HTG501", "MTG1", "IPG640", "IPG346"])
def test_saving_a_sample_unchanged_rewrites_none_of_its_parts(client, role, reference):
    from django.core.management import call_command  # noqa: PLC0415

    call_command("load_samples", verbosity=0)
    client.force_login(make_user("someone", groups=[role], is_staff=True))
    document = Guidance.objects.get(reference=reference)
    page = client.get(change_url(document))

    response = client.post(change_url(document), change_form_data(page, change_reason="Looked"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    change = ChangeSet.objects.get(reason="Looked")
    assert sum(len(rows) for rows in change.row_hashes.values()) == 1
    assert Guidance.history.filter(change_set_id=change.id).count() == 1


def test_auditors_reach_the_documents_timeline_from_its_change_page(client):
    client.force_login(make_user("auditor", groups=["Auditors"], is_staff=True))
    document = make_document("HTG501")
    page = client.get(reverse("admin:guidance_guidance_change", args=[document.pk]))
    assert reverse("audit:timeline", args=["htg501"]) in page.content.decode()


def test_every_field_of_guidance_is_on_its_change_page():
    from django.contrib.admin.utils import flatten_fieldsets  # noqa: PLC0415

    from guidance.editorial.admin import GuidanceAdmin  # noqa: PLC0415

    shown = set(flatten_fieldsets(GuidanceAdmin.change_fieldsets))
    fields = {field.name for field in Guidance._meta.concrete_fields if field.editable}
    assert fields - {"id", "version"} - shown == set()
