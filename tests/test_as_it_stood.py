import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from guidance.audit.trail import Moment, as_it_stood
from guidance.editorial.services import migrate_guidance
from guidance.history import recording
from guidance.models import ChangeSet, Guidance
from tests.factories import make_auditor, make_document, make_user

pytestmark = pytest.mark.django_db

OLD_TEXT = "Recommendation 1 text."
NEW_TEXT = "This procedure should only be used in research."


def migrated_then_edited():
    editor = make_user("editor", groups=["Editors"])
    document = make_document("IPG640", chapters=2, recommendations=1, reason="Imported")
    migrate_guidance(
        guidance=document,
        new_reference="HTG501",
        month=datetime.date(2026, 1, 1),
        user=editor,
        reason="IPG moved into HealthTech",
    )
    with recording(user=editor, reason="New evidence on harms", kind="major", guidance=document):
        block = document.blocks.get(number="1.1")
        block.text = NEW_TEXT
        block.save()
    return document


def page(client, at, reference="htg501"):
    if not client.session.get("_auth_user_id"):
        client.force_login(make_auditor())
    return client.get(reverse("audit:as-it-stood", args=[reference]), {"at": at})


def change(reason):
    return ChangeSet.objects.get(reason=reason)


def test_the_page_before_a_migration_shows_the_old_reference_and_no_notice(client):
    migrated_then_edited()
    before_migration = ChangeSet.objects.filter(reason="Test data").order_by("sequence").last()

    html = page(client, before_migration.pk).content.decode()
    assert "Reference: IPG640" in html
    assert "Interventional procedures guidance" in html
    assert "was migrated to" not in html
    assert OLD_TEXT in html


def test_the_page_after_a_migration_shows_the_new_reference_and_the_notice(client):
    migrated_then_edited()

    html = page(client, change("IPG moved into HealthTech").pk).content.decode()
    assert "Reference: HTG501" in html
    assert "HealthTech guidance" in html
    assert "IPG640 was migrated to HTG501 in January 2026" in html
    assert OLD_TEXT in html and NEW_TEXT not in html


def test_the_page_after_the_edit_shows_the_new_wording(client):
    migrated_then_edited()
    html = page(client, change("New evidence on harms").pk).content.decode()
    assert NEW_TEXT in html and OLD_TEXT not in html


def test_a_banner_says_when_and_that_it_is_not_the_current_page(client):
    migrated_then_edited()
    edit = change("New evidence on harms")
    html = page(client, edit.pk).content.decode()
    when = timezone.localtime(edit.created_at)
    assert f"As it stood on {when.day} {when:%B %Y at %H:%M:%S}" in html
    assert "This is not the current page" in html
    assert "New evidence on harms" in html


def test_a_date_and_time_shows_the_page_as_it_was_then(client):
    migrated_then_edited()
    edit = change("New evidence on harms")
    just_before = timezone.localtime(edit.created_at - datetime.timedelta(microseconds=1))

    html = page(client, just_before.isoformat()).content.decode()
    assert OLD_TEXT in html and NEW_TEXT not in html
    html = page(client, timezone.localtime(edit.created_at).isoformat()).content.decode()
    assert NEW_TEXT in html


def test_a_change_is_seen_whole_or_not_at_all():
    document = make_document("HTG700", chapters=1, recommendations=2)
    with recording(reason="Both recommendations reworded"):
        for block in document.blocks.all():
            block.text = "Reworded."
            block.save()
    edit = change("Both recommendations reworded")

    before = as_it_stood(document.pk, Moment(edit.created_at, inclusive=False))
    after = as_it_stood(document.pk, Moment(edit.created_at))
    assert {b.text for b in before.sections[0][1]} == {
        "Recommendation 1 text.",
        "Recommendation 2 text.",
    }
    assert {b.text for b in after.sections[0][1]} == {"Reworded."}


def test_the_status_and_explanation_of_the_time_are_shown(client):
    editor = make_user("publisher", groups=["Publishers"])
    document = make_document("HTG701", chapters=1, recommendations=1)
    document.withdraw(by=editor, reason="Evidence withdrawn", explanation="Safety concerns.")
    document.reinstate(by=editor, reason="Evidence restored")

    withdrawn = page(client, change("Evidence withdrawn").pk, "htg701").content.decode()
    assert "This guidance has been withdrawn." in withdrawn
    assert "Safety concerns." in withdrawn
    reinstated = page(client, change("Evidence restored").pk, "htg701").content.decode()
    assert "has been withdrawn" not in reinstated


def test_the_page_matches_what_the_public_was_served_at_the_time(client):
    call_command("load_samples", verbosity=0)
    served = client.get(Guidance.objects.get(reference="HTG501").get_absolute_url())
    assert served.status_code == 200
    head = ChangeSet.objects.order_by("-sequence").first()

    document = Guidance.objects.get(reference="HTG501")
    with recording(reason="Reworded", kind="major"):
        block = document.blocks.get(number="1.1")
        block.text = NEW_TEXT
        block.save()

    html = page(client, head.pk).content.decode()
    recommendation = served.context["blocks"][0].text
    assert recommendation in html and NEW_TEXT not in html
    for text in ("Reference: HTG501", "Published: ", "This guidance replaces", "IPG420"):
        assert text in served.content.decode()
        assert text in html


def test_before_the_document_existed_the_page_says_so(client):
    migrated_then_edited()
    response = page(client, "2001-01-01")
    assert response.status_code == 404
    assert "did not exist at that moment" in response.content.decode()


def test_a_moment_that_is_neither_a_change_nor_a_date_is_refused_clearly(client):
    migrated_then_edited()
    response = page(client, "last tuesday")
    assert response.status_code == 400
    assert "neither a change nor a date" in response.content.decode()
