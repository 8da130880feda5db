import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from guidance.history import recording
from guidance.models import ChangeSet
from guidance.roles import roles_at
from tests.factories import make_guidance, make_user

pytestmark = pytest.mark.django_db


def verify():
    out = io.StringIO()
    try:
        call_command("verify_history", stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def test_roles_held_at_each_moment_are_answered_from_history():
    amina = make_user("amina", groups=["Editors"], first_name="Amina", last_name="Khan")
    as_editor = timezone.now()
    with recording(reason="Promoted to publisher"):
        amina.groups.set([Group.objects.get(name="Publishers")])
    as_publisher = timezone.now()
    retire = Permission.objects.get(codename="delete_programme")
    with recording(reason="Publishers may remove programmes"):
        Group.objects.get(name="Publishers").permissions.add(retire)

    then = roles_at(amina, as_editor)
    assert then.username == "amina"
    assert then.display_name == "Amina Khan"
    assert list(then.groups) == ["Editors"]
    assert then.has_perm("guidance.change_guidance")
    assert not then.has_perm("guidance.publish_guidance")

    later = roles_at(amina, as_publisher)
    assert list(later.groups) == ["Publishers"]
    assert later.has_perm("guidance.publish_guidance")
    assert not later.has_perm("guidance.delete_programme")
    assert roles_at(amina, timezone.now()).has_perm("guidance.delete_programme")
    assert amina.has_perm("guidance.delete_programme")


def test_an_account_did_not_exist_before_it_was_made():
    before = timezone.now()
    ben = make_user("ben")
    assert roles_at(ben, before) is None
    assert roles_at(ben, timezone.now()).groups == {}


def test_membership_changed_from_the_group_side_is_recorded_on_the_account():
    carol = make_user("carol")
    Group.objects.get(name="Auditors").user_set.add(carol)
    change = ChangeSet.objects.order_by("-sequence").first()
    assert change.user.username == "system"
    assert "outside the registry's forms" in change.reason
    assert list(roles_at(carol, timezone.now()).groups) == ["Auditors"]
    ok, out = verify()
    assert ok, out


def test_each_change_keeps_who_made_it_as_they_were_named():
    dana = make_user("dana", first_name="Dana", last_name="Ode")
    make_guidance("HTG701", user=dana)
    change = ChangeSet.objects.order_by("-sequence").first()
    dana.username = "dana.ode"
    dana.save()

    change.refresh_from_db()
    assert (change.username, change.user_display_name) == ("dana", "Dana Ode")
    assert verify()[0]


def test_usernames_swapped_in_the_database_are_named():
    erin = make_user("erin")
    frank = make_user("frank")
    make_guidance("HTG702", user=erin)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE auth_user SET username = 'swapping' WHERE id = %s", [erin.pk])
        cursor.execute("UPDATE auth_user SET username = 'erin' WHERE id = %s", [frank.pk])
        cursor.execute("UPDATE auth_user SET username = 'frank' WHERE id = %s", [erin.pk])

    ok, out = verify()
    assert not ok
    assert f"auth_user {erin.pk}: live row differs from its latest history row in username" in out
    assert f"auth_user {frank.pk}: live row differs" in out
    assert ChangeSet.objects.get(user=erin).username == "erin"


def test_accounts_made_by_a_command_are_recorded_and_a_sign_in_is_not_a_change(client):
    call_command("createsuperuser", interactive=False, username="root", email="root@example.org")
    root = get_user_model().objects.get(username="root")
    assert root.history.count() == 1
    root.set_password("correct horse battery")
    root.save()
    changes = ChangeSet.objects.count()

    # Through the sign-in page (the lock-out counts failures by the request's address).
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert ChangeSet.objects.count() == changes
    assert verify()[0]


def test_a_group_changed_in_the_admin_is_recorded_by_whoever_changed_it(client):
    admin = get_user_model().objects.create_superuser("grace", password="correct horse battery")
    client.force_login(admin)
    audit = Permission.objects.get(codename="view_audit")
    response = client.post(
        reverse("admin:auth_group_add"), {"name": "Reviewers", "permissions": [audit.pk]}
    )
    assert response.status_code == 302
    change = ChangeSet.objects.order_by("-sequence").first()
    assert (change.username, change.reason) == ("grace", "Group added in the admin")
    group = Group.objects.get(name="Reviewers")
    assert group.history.order_by("-history_id").first().permission_codenames == [
        "guidance.view_audit"
    ]
    assert verify()[0]
