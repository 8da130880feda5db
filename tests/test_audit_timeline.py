import datetime

import pytest
from django.urls import reverse

from guidance.editorial.services import migrate_guidance
from guidance.history import recording
from guidance.models import Block, ChangeSet
from tests.factories import (
    make_auditor,
    make_document,
    make_endorsement,
    make_guidance,
    make_relation,
    make_update_entry,
    make_user,
)

pytestmark = pytest.mark.django_db


def imported_migrated_and_edited():
    """IPG640 imported, migrated to HTG501, then given a major edit by an editor."""
    editor = make_user("editor", groups=["Editors"], first_name="Erin", last_name="Editor")
    document = make_document(
        "IPG640", chapters=2, recommendations=1, reason="Imported from ipg640.txt"
    )
    migrate_guidance(
        guidance=document,
        new_reference="HTG501",
        month=datetime.date(2026, 1, 1),
        user=editor,
        reason="IPG moved into HealthTech",
    )
    with recording(user=editor, reason="New evidence on harms", kind="major", guidance=document):
        block = document.blocks.get(number="1.1")
        block.text = "This procedure should only be used in research."
        block.save()
    document.refresh_from_db()
    return document


def timeline_text(client, reference, page=1):
    client.force_login(make_auditor())
    response = client.get(reverse("audit:timeline", args=[reference]), {"page": page})
    assert response.status_code == 200
    return response


def test_the_timeline_lists_each_change_newest_first_with_who_when_why(client):
    imported_migrated_and_edited()
    response = timeline_text(client, "htg501")

    entries = response.context["page"].entries
    assert [entry.change.reason for entry in entries] == [
        "New evidence on harms",
        "IPG moved into HealthTech",
        "Test data",
        "Test data",
        "Imported from ipg640.txt",
    ]
    html = response.content.decode()
    assert html.index("New evidence on harms") < html.index("IPG moved into HealthTech")
    assert "Erin Editor (editor)" in html
    assert "Major" in html and "Minor" in html
    assert "Workflow" in html


def test_each_change_says_what_it_touched(client):
    imported_migrated_and_edited()
    entries = timeline_text(client, "htg501").context["page"].entries

    edit, migration = entries[0].touched, entries[1].touched
    assert edit == ["recommendation 1.1 changed"]
    assert "document changed" in migration
    assert "former reference IPG640 added" in migration
    assert "relation: IPG640 migrated to HTG501 added" in migration
    assert "update information (January 2026) added" in migration


def test_a_former_reference_leads_to_the_timeline_of_its_document(client):
    imported_migrated_and_edited()
    client.force_login(make_auditor())
    response = client.get(reverse("audit:timeline", args=["IPG640"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("audit:timeline", args=["htg501"])


def test_endorsements_updates_and_relations_of_both_ends_are_in_the_timeline(client):
    document = make_guidance("HTG600")
    make_endorsement(document)
    make_update_entry(document, "Corrected a link.")
    make_relation(make_guidance("HTG601"), "replaces", document)
    make_guidance("HTG602")  # not about this document

    entries = timeline_text(client, "htg600").context["page"].entries
    touched = [item for entry in entries for item in entry.touched]
    assert "endorsement added" in touched
    assert "update information (January 2026) added" in touched
    assert "relation: HTG601 replaces HTG600 added" in touched
    assert len(entries) == 4


def test_each_entry_links_to_the_page_as_it_stood_and_to_its_diff(client):
    document = imported_migrated_and_edited()
    edit = ChangeSet.objects.get(reason="New evidence on harms")
    html = timeline_text(client, "htg501").content.decode()
    as_it_stood = reverse("audit:as-it-stood", args=[document.reference.lower()])
    assert f'href="{as_it_stood}?at={edit.pk}"' in html
    assert f'href="{reverse("audit:diff", args=["htg501"])}?change={edit.pk}"' in html


def test_the_timeline_is_paginated(client):
    document = make_document("HTG603", chapters=1, recommendations=1)
    block = document.blocks.get()
    for n in range(30):
        with recording(reason=f"Edit {n}"):
            block.text = f"Version {n}"
            block.save()

    first = timeline_text(client, "htg603").context["page"]
    assert first.entries[0].change.reason == "Edit 29"
    assert first.has_next()
    second = client.get(reverse("audit:timeline", args=["htg603"]), {"page": 2}).context["page"]
    assert second.entries[-1].change.reason == "Test data"


def test_the_timeline_costs_the_same_queries_whatever_the_length_of_history(
    client, django_assert_max_num_queries
):
    short = make_document("HTG604", chapters=2, recommendations=2)
    long = make_document("HTG605", chapters=2, recommendations=2)
    for n in range(60):
        with recording(reason=f"Edit {n}"):
            for block in Block.objects.filter(guidance=long):
                block.text = f"Version {n}"
                block.save()
    client.force_login(make_auditor())
    for document in (short, long):
        # 17 for the changes and their parts, a fixed few for the events the document states,
        # one for the verdict of the latest verification, one for the reader's second factor.
        with django_assert_max_num_queries(24):
            response = client.get(reverse("audit:timeline", args=[document.reference.lower()]))
        assert response.status_code == 200


def test_a_cached_timeline_shows_a_new_change_on_the_next_request(
    client, django_capture_on_commit_callbacks
):
    document = make_document("HTG606", chapters=1, recommendations=1)
    path = reverse("audit:timeline", args=["htg606"])
    client.force_login(make_auditor())
    first = client.get(path).content
    assert client.get(path).content == first  # served again from the cache
    with (
        django_capture_on_commit_callbacks(execute=True),
        recording(reason="Reworded after the cached page"),
    ):
        block = document.blocks.get()
        block.text = "Reworded."
        block.save()
    assert "Reworded after the cached page" in client.get(path).content.decode()


def test_a_cached_timeline_is_still_refused_to_those_without_the_auditor_role(client):
    make_document("HTG607", chapters=1, recommendations=1)
    path = reverse("audit:timeline", args=["htg607"])
    client.force_login(make_auditor())
    assert client.get(path).status_code == 200
    client.force_login(make_user("editor", groups=["Editors"]))
    assert client.get(path).status_code == 403
    client.logout()
    assert client.get(path).status_code == 302


def test_only_the_page_number_makes_a_cached_timeline_render_again(
    client, django_assert_max_num_queries
):
    document = make_document("HTG608", chapters=1, recommendations=1)
    for n in range(30):
        with recording(reason=f"Edit {n}"):
            document.title = f"Title {n}"
            document.save()
    path = reverse("audit:timeline", args=["htg608"])
    client.force_login(make_auditor())
    first = client.get(path).content
    second = client.get(path, {"page": 2}).content
    assert second != first
    for query in ({"x": "1"}, {"utm_source": "mail", "from": "9999-12-31"}):
        # A hit asks only who the reader is and the latest verdict; a render asks over 20.
        with django_assert_max_num_queries(6):
            assert client.get(path, query).content == first
        with django_assert_max_num_queries(6):
            assert client.get(path, {"page": 2, **query}).content == second
