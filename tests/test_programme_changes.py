"""A programme's name and its 'Your responsibility' text are part of every document's history."""

import datetime

import pytest
from django.urls import reverse

from guidance.history import recording
from guidance.models import ChangeSet, Programme, ResponsibilityStatement
from tests.factories import make_auditor, make_document, make_user

pytestmark = pytest.mark.django_db

OLD_WORDING = "Health professionals are expected to take this guidance fully into account."
NEW_WORDING = "Health professionals must take this guidance fully into account."


@pytest.fixture
def two_htg_documents():
    editor = make_user("editor", groups=["Editors"])
    first = make_document("HTG701", chapters=1, recommendations=1)
    second = make_document("HTG702", chapters=1, recommendations=1)
    programme = first.programme
    with recording(user=editor, reason="The programme's wording"):
        statement = ResponsibilityStatement.objects.create(
            programme=programme, applies_from=datetime.date(2019, 1, 1), text=OLD_WORDING
        )
    with recording(user=editor, reason="Renamed the programme"):
        programme.name = "HealthTech programme guidance"
        programme.save()
    with recording(user=editor, reason="Stronger wording of Your responsibility"):
        statement.text = NEW_WORDING
        statement.save()
    return first, second


def get(client, name, reference, **query):
    if not client.session.get("_auth_user_id"):
        client.force_login(make_auditor())
    return client.get(reverse(name, args=[reference]), query)


@pytest.mark.parametrize("reference", ["htg701", "htg702"])
def test_the_programme_changes_are_in_the_timeline_of_every_document_of_it(
    client, two_htg_documents, reference
):
    html = get(client, "audit:timeline", reference).content.decode()
    assert "Renamed the programme" in html
    assert "Stronger wording of Your responsibility" in html
    assert "programme HTG (HealthTech programme guidance) changed" in html
    assert "&#x27;Your responsibility&#x27; of programme HTG changed" in html


@pytest.mark.parametrize("reference", ["htg701", "htg702"])
def test_the_diff_of_a_programme_change_shows_what_it_changed_on_the_document(
    client, two_htg_documents, reference
):
    rename = ChangeSet.objects.get(reason="Renamed the programme")
    html = get(client, "audit:diff", reference, change=rename.pk).content.decode()
    assert "HealthTech guidance" in html and "HealthTech programme guidance" in html
    wording = ChangeSet.objects.get(reason="Stronger wording of Your responsibility")
    html = get(client, "audit:diff", reference, change=wording.pk).content.decode()
    assert "Your responsibility" in html
    assert "<del>are expected to</del>" in html and "<ins>must</ins>" in html


def test_as_it_stood_shows_the_programme_as_it_was(client, two_htg_documents):
    rename = ChangeSet.objects.get(reason="Renamed the programme")
    before = get(client, "audit:as-it-stood", "htg702", at=rename.sequence - 1)
    assert "HealthTech guidance" in before.content.decode()
    assert OLD_WORDING in before.content.decode()
    after = get(client, "audit:as-it-stood", "htg702", at=ChangeSet.objects.first().sequence)
    assert "HealthTech programme guidance" in after.content.decode()
    assert NEW_WORDING in after.content.decode()


def test_another_programmes_change_is_not_in_the_timeline(client, two_htg_documents):
    other = Programme.objects.exclude(code="HTG").first()
    with recording(user=make_user("other"), reason="Renamed another programme"):
        other.name = "Something else"
        other.save()
    html = get(client, "audit:timeline", "htg701").content.decode()
    assert "Renamed another programme" not in html
