import pytest
from django.urls import reverse

from guidance.models import ChangeSet
from tests.factories import make_guidance

pytestmark = pytest.mark.django_db


def test_an_account_is_deactivated_never_deleted_even_by_a_superuser(
    admin_client, django_user_model
):
    editor = django_user_model.objects.create_user("leaving-editor")
    make_guidance("IPG720", user=editor)

    change_page = admin_client.get(reverse("admin:auth_user_change", args=[editor.pk]))
    assert change_page.status_code == 200
    assert reverse("admin:auth_user_delete", args=[editor.pk]) not in change_page.text

    response = admin_client.post(
        reverse("admin:auth_user_delete", args=[editor.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert django_user_model.objects.filter(pk=editor.pk).exists()
    assert ChangeSet.objects.filter(user=editor).exists()
