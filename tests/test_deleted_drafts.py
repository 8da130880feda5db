"""A deleted draft's history stays reachable from the history area."""

import pytest
from django.urls import reverse

from guidance.history import recording
from guidance.models import ChangeSet, GuidanceStatus
from tests.factories import make_auditor, make_document, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def deleted_draft(client):
    editor = make_user("editor", groups=["Editors"])
    draft = make_document("HTG900", status=GuidanceStatus.DRAFT, title="Draft on venoplasty")
    with recording(user=editor, reason="Worked on the draft"):
        draft.title = "Draft on venoplasty, revised"
        draft.save()
    with recording(user=editor, reason="Started by mistake"):
        draft.delete()
    client.force_login(make_auditor())
    return draft


def test_the_index_lists_deleted_drafts_and_finds_them_by_reference(client, deleted_draft):
    index = client.get(reverse("audit:index")).content.decode()
    assert "Deleted drafts" in index
    assert f'href="{reverse("audit:timeline", args=["htg900"])}"' in index
    response = client.get(reverse("audit:index"), {"reference": "htg 900"})
    assert response.status_code == 302
    assert response["Location"] == reverse("audit:timeline", args=["htg900"])


def test_the_timeline_of_a_deleted_draft_shows_every_change_and_the_deletion(client, deleted_draft):
    html = client.get(reverse("audit:timeline", args=["htg900"])).content.decode()
    assert "HTG900 was deleted" in html
    assert "Worked on the draft" in html
    assert "Started by mistake" in html
    assert "document removed" in html


def test_the_log_lists_a_deleted_drafts_changes_by_its_reference(client, deleted_draft):
    html = client.get(reverse("audit:log"), {"guidance": "HTG900"}).content.decode()
    assert "Worked on the draft" in html and "Started by mistake" in html


def test_a_deleted_draft_is_shown_as_it_stood_before_its_deletion(client, deleted_draft):
    worked = ChangeSet.objects.get(reason="Worked on the draft")
    response = client.get(reverse("audit:as-it-stood", args=["htg900"]), {"at": worked.pk})
    assert "Draft on venoplasty, revised" in response.content.decode()
    assert "HTG900 was deleted on" in response.content.decode()
    deletion = ChangeSet.objects.get(reason="Started by mistake")
    response = client.get(reverse("audit:as-it-stood", args=["htg900"]), {"at": deletion.pk})
    assert response.status_code == 404


def test_a_reference_never_recorded_is_still_not_found(client, deleted_draft):
    assert client.get(reverse("audit:timeline", args=["htg999"])).status_code == 404
    assert client.get(reverse("audit:index"), {"reference": "HTG999"}).status_code == 404
