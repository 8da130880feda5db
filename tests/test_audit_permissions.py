import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from guidance.models import ChangeSet
from tests.factories import make_auditor, make_document, make_user

pytestmark = pytest.mark.django_db


def history_urls():
    make_document("IPG910", chapters=1, recommendations=1)
    change = ChangeSet.objects.order_by("-sequence").first()
    return [
        reverse("audit:index"),
        reverse("audit:log"),
        reverse("audit:log-csv"),
        reverse("audit:timeline", args=["ipg910"]),
        reverse("audit:as-it-stood", args=["ipg910"]) + f"?at={change.pk}",
        reverse("audit:diff", args=["ipg910"]) + f"?change={change.pk}",
    ]


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in history_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_editors_without_the_auditor_role_are_refused(client):
    urls = history_urls()
    client.force_login(make_user("editor", groups=["Editors"], is_staff=True))
    for url in urls:
        assert client.get(url).status_code == 403, url


def test_auditors_can_read_every_history_page(client):
    urls = history_urls()
    client.force_login(make_auditor())
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_publishers_can_read_the_history_area_too(client):
    urls = history_urls()
    client.force_login(make_auditor("publisher", group="Publishers"))
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_the_permission_given_to_the_user_alone_or_being_superuser_is_enough(client):
    urls = history_urls()
    reader = make_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_audit"))
    client.force_login(reader)
    for url in urls:
        assert client.get(url).status_code == 200, url
    client.force_login(make_user("root", is_superuser=True))
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_a_user_whose_role_is_taken_away_is_refused_at_once(client):
    urls = history_urls()
    auditor = make_auditor()
    client.force_login(auditor)
    assert client.get(urls[3]).status_code == 200
    auditor.groups.clear()
    for url in urls:
        assert client.get(url).status_code == 403, url


def test_the_history_area_is_read_only(client):
    urls = history_urls()
    client.force_login(make_auditor())
    for url in urls:
        assert client.post(url).status_code in (403, 405), url
        assert client.put(url).status_code == 405, url
