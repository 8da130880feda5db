import pytest
from django.urls import reverse

from guidance.history import recording
from guidance.models import (
    Block,
    ChangeSet,
    Guidance,
    GuidanceStatus,
    Programme,
    PublishedGuidanceIsKept,
)
from tests.factories import make_document, make_guidance, make_user

pytestmark = pytest.mark.django_db


def delete_url(guidance):
    return reverse("admin:guidance_guidance_delete", args=[guidance.pk])


@pytest.fixture
def publisher(client):
    user = make_user("publisher", groups=["Publishers"], is_staff=True)
    client.force_login(user)
    return user


def test_published_guidance_cannot_be_deleted_through_the_orm(as_editor):
    guidance = make_document("HTG501")
    with pytest.raises(PublishedGuidanceIsKept, match="withdraw it"), as_editor("Tidy up"):
        guidance.delete()
    with pytest.raises(PublishedGuidanceIsKept, match="HTG501"), as_editor("Tidy up"):
        Guidance.objects.filter(reference__startswith="HTG").delete()
    assert Guidance.objects.filter(pk=guidance.pk).exists()
    assert guidance.blocks.exists()


@pytest.mark.parametrize("status", [GuidanceStatus.WITHDRAWN, GuidanceStatus.TEMPORARILY_WITHDRAWN])
def test_withdrawn_guidance_is_kept_too(as_editor, status):
    guidance = make_guidance("HTG501", status=status)
    with pytest.raises(PublishedGuidanceIsKept), as_editor("Tidy up"):
        guidance.delete()


def test_a_draft_that_was_ever_published_cannot_be_deleted(as_editor):
    guidance = make_guidance("HTG501")
    with as_editor("Back to draft for rework"):
        guidance.status = GuidanceStatus.DRAFT
        guidance.published_on = None
        guidance.save()
    with pytest.raises(PublishedGuidanceIsKept), as_editor("Tidy up"):
        guidance.delete()
    assert Guidance.objects.filter(pk=guidance.pk).exists()


def test_a_draft_never_published_can_be_deleted_with_its_parts(as_editor):
    draft = make_document("HTG900", status=GuidanceStatus.DRAFT)
    draft_id = draft.pk
    with as_editor("Started by mistake"):
        draft.delete()
    assert not Guidance.objects.filter(reference="HTG900").exists()
    assert not Block.objects.filter(guidance_id=draft_id).exists()
    assert Guidance.history.filter(id=draft_id, history_type="-").exists()
    assert Block.history.filter(guidance_id=draft_id, history_type="-").count() == 12


def test_the_admin_offers_no_delete_for_published_guidance_and_refuses_it(client, publisher):
    guidance = make_document("HTG501")
    page = client.get(reverse("admin:guidance_guidance_change", args=[guidance.pk]))
    assert delete_url(guidance) not in page.content.decode()
    refused = client.get(delete_url(guidance), follow=True)
    assert refused.redirect_chain[-1][0] == reverse(
        "admin:guidance_guidance_change", args=[guidance.pk]
    )
    assert "HTG501 was published, so it is kept" in refused.content.decode()
    response = client.post(delete_url(guidance), {"post": "yes", "change_reason": "Tidy"})
    assert response.status_code == 302
    assert Guidance.objects.filter(pk=guidance.pk).exists()
    assert guidance.blocks.exists()


def test_an_auditor_is_refused_the_delete_page_of_anything(client):
    client.force_login(make_user("auditor", groups=["Auditors"], is_staff=True))
    for guidance in (make_guidance("HTG501"), make_guidance("HTG900", status="draft")):
        assert client.get(delete_url(guidance)).status_code == 403


def test_the_admin_has_no_bulk_delete(client, publisher):
    make_guidance("HTG900", status=GuidanceStatus.DRAFT)
    page = client.get(reverse("admin:guidance_guidance_changelist"))
    assert 'value="delete_selected"' not in page.content.decode()


def test_a_draft_added_in_the_admin_is_deleted_there_with_a_reason(client, publisher):
    with recording(user=publisher, reason="Started a draft"):
        draft = Guidance.objects.create(
            reference="HTG900", programme=Programme.objects.get(code="HTG"), number=900
        )

    refused = client.post(delete_url(draft), {"post": "yes"}, follow=True)
    assert "Say why you are deleting it" in refused.content.decode()
    assert Guidance.objects.filter(pk=draft.pk).exists()

    assert "Reason for deleting it" in client.get(delete_url(draft)).content.decode()
    response = client.post(delete_url(draft), {"post": "yes", "change_reason": "Duplicate"})
    assert response.status_code == 302
    assert not Guidance.objects.filter(pk=draft.pk).exists()
    change = ChangeSet.objects.get(reason="Duplicate")
    assert change.user == publisher
    assert Guidance.history.get(change_set_id=change.id).history_type == "-"


def test_a_draft_saved_in_the_admin_can_still_be_deleted(client, publisher):
    from tests.admin_forms import change_form_data  # noqa: PLC0415

    draft = make_document("HTG900", status=GuidanceStatus.DRAFT)
    change_url = reverse("admin:guidance_guidance_change", args=[draft.pk])
    client.post(
        change_url,
        change_form_data(client.get(change_url), title="Draft title", change_reason="Work"),
    )
    response = client.post(delete_url(draft), {"post": "yes", "change_reason": "Dropped"})
    assert response.status_code == 302
    assert not Guidance.objects.filter(pk=draft.pk).exists()
