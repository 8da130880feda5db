"""Every admin URL, for every role: a URL the matrix does not know fails the test."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tasks_db.models import DBTaskResult

from guidance.history import recording
from guidance.models import (
    Block,
    ChangeSet,
    GuidanceStatus,
    Organisation,
    Programme,
    ResponsibilityStatement,
)
from tests.factories import make_chapter, make_guidance, make_user

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no role", "editor", "publisher", "auditor")
LOGIN = "login"  # redirected to the sign-in page

# (anonymous, no role, editor, publisher, auditor) for a GET of each URL.
EVERYONE = (LOGIN, 403, 200, 200, 200)
EDITORS = (LOGIN, 403, 200, 200, 403)
PUBLISHERS = (LOGIN, 403, 403, 200, 403)
NOBODY = (LOGIN, 403, 403, 403, 403)
REDIRECT = (LOGIN, 403, 302, 302, 302)
# Who changed what, when and why: only with guidance.view_audit (publishers and auditors).
AUDIT = (LOGIN, 403, 403, 200, 200)

MATRIX = {
    "index": EVERYONE,
    "login": (200, 200, 302, 302, 302),
    "logout": (302, 302, 405, 405, 405),
    "password_change": EVERYONE,
    "password_change_done": EVERYONE,
    "autocomplete": EVERYONE,
    "jsi18n": EVERYONE,
    "view_on_site": REDIRECT,
    "app_list": EVERYONE,
    "(?P<url>.*)$": (LOGIN, 403, 404, 404, 404),
    # Accounts are managed by superusers only.
    **{
        f"auth_{model}_{view}": NOBODY
        for model in ("user", "group")
        for view in ("changelist", "add", "history", "delete", "change")
    },
    "auth/group/<path:object_id>/": REDIRECT,  # to the change page, which refuses
    "auth/user/<path:object_id>/": REDIRECT,
    "auth_user_password_change": NOBODY,
    # The background worker's task results: superusers only.
    **{
        f"django_tasks_database_dbtaskresult_{view}": NOBODY
        for view in ("changelist", "add", "history", "delete", "change")
    },
    "django_tasks_database/dbtaskresult/<path:object_id>/": REDIRECT,
    # Second-factor devices: superusers only; a TOTP secret is never shown again.
    **{
        f"otp_{plugin}_{model}_{view}": NOBODY
        for plugin, model in (("totp", "totpdevice"), ("static", "staticdevice"))
        for view in ("changelist", "add", "history", "delete", "change")
    },
    "otp_totp_totpdevice_config": NOBODY,
    "otp_totp_totpdevice_qrcode": NOBODY,
    "otp_totp/totpdevice/<path:object_id>/": REDIRECT,
    "otp_static/staticdevice/<path:object_id>/": REDIRECT,
    # Guidance: editors edit, publishers also run the workflows, auditors read.
    "guidance_guidance_changelist": EVERYONE,
    "guidance_guidance_add": EDITORS,
    "guidance_guidance_change": EVERYONE,
    "guidance_guidance_delete": EDITORS,  # of a draft never published
    "guidance_guidance_history": AUDIT,
    "guidance_guidance_simple_history": AUDIT,
    "guidance/guidance/<path:object_id>/": REDIRECT,
    "guidance_preview": EVERYONE,
    "guidance_preview_chapter": EVERYONE,
    "guidance_preview_history": EVERYONE,
    "guidance_preview_whole": EVERYONE,
    # Editions and review: editors start and submit drafts, publishers review them.
    "guidance_edition": (LOGIN, 403, 405, 405, 403),  # POST only
    "guidance_submit": EDITORS,
    "guidance_review": PUBLISHERS,
    "guidance_changes": EVERYONE,
    "guidance_chapter": EDITORS,  # a chapter's paragraphs, on a draft
    "guidance_migrate": PUBLISHERS,
    "guidance_replace": PUBLISHERS,
    "guidance_status": PUBLISHERS,
    "guidance_bulk_migrate": PUBLISHERS,
    # Programmes and their 'Your responsibility' wording: publishers keep them.
    **{
        f"guidance_{model}_{view}": access
        for model in ("programme", "responsibilitystatement")
        for view, access in (
            ("changelist", EVERYONE),
            ("add", PUBLISHERS),
            ("change", EVERYONE),
            ("delete", NOBODY),
            ("history", AUDIT),
            ("simple_history", AUDIT),
        )
    },
    "guidance/programme/<path:object_id>/": REDIRECT,
    "guidance/responsibilitystatement/<path:object_id>/": REDIRECT,
    "guidance_organisation_changelist": EVERYONE,
    "guidance_organisation_add": EDITORS,
    "guidance_organisation_change": EVERYONE,
    "guidance_organisation_delete": NOBODY,
    "guidance_organisation_history": AUDIT,
    "guidance_organisation_simple_history": AUDIT,
    "guidance/organisation/<path:object_id>/": REDIRECT,
    # Changes are read-only, and only for readers of the audit history.
    "guidance_changeset_changelist": AUDIT,
    "guidance_changeset_add": NOBODY,
    "guidance_changeset_change": AUDIT,
    "guidance_changeset_delete": NOBODY,
    "guidance_changeset_history": AUDIT,
    "guidance/changeset/<path:object_id>/": REDIRECT,
}


def admin_urls(patterns=None, prefix=""):
    """(key, route) of every URL the admin serves: its name, or its route when unnamed."""
    for pattern in admin.site.get_urls() if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from admin_urls(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            route = prefix + str(pattern.pattern)
            yield pattern.name or route, route


def test_every_admin_url_has_a_row_in_the_matrix():
    served = {key for key, _ in admin_urls()}
    assert served - MATRIX.keys() == set(), "add these URLs to the permission matrix"
    assert MATRIX.keys() - served == set(), "these URLs are no longer served"


@pytest.fixture
def records():
    return made_records()


def made_records():
    """A record of each kind the admin's URLs name, for url_for()."""
    draft = make_guidance("HTG900", status=GuidanceStatus.DRAFT)
    chapter = make_chapter(draft, blocks=[(Block.Kind.RECOMMENDATION, "1.1", "Use it.")])
    with recording(reason="Test data"):
        organisation = Organisation.objects.create(name="Healthcare Improvement Scotland")
        statement = ResponsibilityStatement.objects.create(
            programme=Programme.objects.get(code="HTG"),
            applies_from=datetime.date(2025, 1, 1),
            text="x",
        )
    user = make_user("someone-else")
    totp_device = TOTPDevice.objects.create(user=user, name="Phone")
    static_device = StaticDevice.objects.create(user=user, name="Recovery codes")
    task_result = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="guidance.tasks.example",
        backend_name="default",
        run_after=timezone.now(),
    )
    return {
        "dbtaskresult": task_result,
        "totpdevice": totp_device,
        "staticdevice": static_device,
        "guidance": draft,
        "chapter": chapter,
        "programme": Programme.objects.get(code="HTG"),
        "responsibilitystatement": statement,
        "organisation": organisation,
        "changeset": ChangeSet.objects.first(),
        "user": user,
        "group": Group.objects.get(name="Editors"),
    }


def url_for(key, route, records):
    """A real URL for the pattern, with the ids of real records."""
    segments = route.split("/")
    obj = records.get(segments[1]) if len(segments) > 1 else None
    if key == "(?P<url>.*)$":
        return "/admin/no-such-page/"
    if key == "app_list":
        return reverse("admin:app_list", args=["guidance"])
    if key == "view_on_site":
        content_type = ContentType.objects.get_for_model(records["guidance"])
        return reverse("admin:view_on_site", args=[content_type.pk, records["guidance"].pk])
    if key == "autocomplete":
        query = "app_label=guidance&model_name=endorsement&field_name=organisation"
        return f"{reverse('admin:autocomplete')}?{query}"
    if key.endswith("_simple_history"):
        history_id = obj.history.order_by("-history_id").first().history_id
        return reverse(f"admin:{key}", args=[obj.pk, history_id])
    if key == "guidance_chapter":
        return reverse(f"admin:{key}", args=[obj.pk, records["chapter"].pk])
    if key == "guidance_preview_chapter":
        return reverse(f"admin:{key}", args=[obj.pk, records["chapter"].slug])
    if key.startswith("auth_user_password") or "<int:pk>" in route:
        return reverse(f"admin:{key}", args=[obj.pk])
    if "<path:object_id>" in route:
        if "/" in key:  # unnamed: the bare object URL that leads to its change page
            return f"/admin/{route.replace('<path:object_id>', str(obj.pk))}"
        return reverse(f"admin:{key}", args=[obj.pk])
    return reverse(f"admin:{key}")


def sign_in(client, role):
    groups = {"editor": ["Editors"], "publisher": ["Publishers"], "auditor": ["Auditors"]}
    if role == "anonymous":
        return
    user = make_user(role.replace(" ", "-"), groups=groups.get(role, []), is_staff=role in groups)
    client.force_login(user)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_access_the_matrix_gives(client, records, role):
    sign_in(client, role)
    index = ROLES.index(role)
    wrong = []
    for key, route in admin_urls():
        url = url_for(key, route, records)
        expected = MATRIX[key][index]
        response = client.get(url)
        if expected == LOGIN:
            ok = response.status_code == 302 and response.headers["Location"].startswith(
                reverse("admin:login")
            )
        else:
            ok = response.status_code == expected
        if not ok:
            wrong.append(f"{key} {url}: expected {expected}, got {response.status_code}")
    assert wrong == [], "\n".join(wrong)


def test_auditors_read_change_forms_and_history_without_save_delete_or_revert(client, records):
    sign_in(client, "auditor")
    for key, route in admin_urls():
        if not (key.endswith(("_change", "_history")) and key.startswith("guidance_")):
            continue
        content = client.get(url_for(key, route, records)).content.decode()
        assert 'name="_save"' not in content, key
        assert 'name="_continue"' not in content, key
        assert "deletelink" not in content, key
        assert "Revert" not in content, key
        assert "Reason for this change" not in content, key


def test_auditors_read_past_versions_without_a_revert_button(client, records):
    sign_in(client, "auditor")
    for model in ("guidance", "programme", "organisation"):
        key = f"guidance_{model}_simple_history"
        content = client.get(url_for(key, f"guidance/{model}/", records)).content.decode()
        assert "Revert" not in content and 'name="_save"' not in content, model


@pytest.mark.parametrize("role", ["auditor", "editor"])
def test_posting_to_forms_they_may_only_read_is_refused(client, records, role):
    sign_in(client, role)
    refused = [
        reverse("admin:guidance_programme_change", args=[records["programme"].pk]),
        reverse("admin:guidance_changeset_change", args=[records["changeset"].pk]),
        reverse(
            "admin:guidance_guidance_simple_history",
            args=[records["guidance"].pk, records["guidance"].history.first().history_id],
        ),
    ]
    if role == "auditor":
        refused += [
            reverse("admin:guidance_guidance_change", args=[records["guidance"].pk]),
            reverse("admin:guidance_guidance_delete", args=[records["guidance"].pk]),
            reverse("admin:guidance_guidance_add"),
        ]
    for url in refused:
        response = client.post(url, {"change_reason": "Trying", "post": "yes", "title": "x"})
        assert response.status_code == 403, url
