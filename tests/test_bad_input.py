"""Every bad input is a 4xx with a clear message, never a 500: every public, audit and admin URL."""

import re
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from guidance.history import recording
from guidance.models import ChangeSet, Guidance
from tests.factories import make_chapter, make_document, make_user
from tests.test_admin_permissions import admin_urls, made_records, url_for

pytestmark = pytest.mark.django_db

# Values as an attacker or a careless link would send them, already percent-encoded.
CONTROL = ["%00", "htg501%00", "x%01y", "%1F", "%7F", "%C2%85", "%0D%0ASet-Cookie:x=1", "%09"]
VALUES = [
    "9999-12-31",
    "0000-00-00",
    "0001-01-01",
    "2026-02-30",
    "9999-12-31T23:59",
    "-1",
    "0",
    "1000000",
    "99999999999999999999",
    "-99999999999999999999",
    "1e308",
    "NaN",
    "%FF%FE",
    "%F0%9F%92%A9",
    "%E2%80%AE",
    "..%2F..%2Fetc%2Fpasswd",
    "%5C%5Cevil.example",
    "'%20OR%201=1--",
    "x" * 5000,
]
CORPUS = CONTROL + VALUES
NUMBERS_AND_DATES = ["9999-12-31", "99999999999999999999"]
# Every parameter a public or history page reads, and the admin's own.
QUERY_NAMES = [
    "page",
    "q",
    "programme",
    "status",
    "published_from",
    "published_to",
    "sort",
    "reference",
    "user",
    "start",
    "end",
    "guidance",
    "kind",
    "source",
    "at",
    "change",
    "from",
    "to",
    "next",
]
ADMIN_QUERY_NAMES = ["p", "q", "o", "e", "_changelist_filters", "status__exact", "all"]


@pytest.fixture(scope="module")
def document(django_db_setup, django_db_blocker):
    """Made once for the module; each test's own changes are still rolled back after it, and
    the document after the module's last test."""
    with django_db_blocker.unblock(), transaction.atomic():
        guidance = make_document("HTG501", chapters=2)
        with recording(reason="A change to read"):
            guidance.title = "Changed title"
            guidance.save()
        yield guidance
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def records(django_db_setup, django_db_blocker):
    """The admin's records, made once for the module and rolled back after it, as document."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield made_records()
        transaction.set_rollback(True)


@pytest.fixture
def superuser_client():
    client = Client(raise_request_exception=False)
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def site_urls(patterns=None, prefix="/"):
    """(route, view name) of every URL outside the admin, its converters left in place."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "admin/":
                continue
            yield from site_urls(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def filled(route, guidance, value=None):
    """The route with real values, or with value in every parameter."""
    real = {"reference": "htg501", "slug": guidance.chapters.first().slug, "section": "chapters"}
    return re.sub(
        r"<(?:\w+:)?(\w+)>", lambda m: value if value is not None else real[m.group(1)], route
    )


def served_errors(client, urls):
    return [f"{url[:120]}: {status}" for url, status in requests(client, urls) if status >= 500]


def requests(client, urls):
    for url in urls:
        yield url, client.get(url).status_code


def test_the_issues_examples_are_refused_with_a_message(superuser_client, document):
    expectations = {
        "/guidance/htg501%00/": "control character",
        "/guidance/htg501/chapter/x%00/": "control character",
        "/audit/log/?end=9999-12-31": "Enter a &#x27;to&#x27; date between",
        "/audit/log/?page=99999999999999999999": "There is no page 99999999999999999999",
        "/guidance/?published_to=9999-12-31": "Enter a &#x27;published to&#x27; date between",
    }
    for url, message in expectations.items():
        response = superuser_client.get(url)
        assert 400 <= response.status_code < 500, url
        assert message in response.content.decode(), url


ROUTES = [route for route, _name in site_urls()]


def test_the_walk_takes_in_the_history_and_account_areas():
    assert any(route.startswith("/audit/") for route in ROUTES)
    assert any(route.startswith("/accounts/") for route in ROUTES)


# A test for each route, so that parallel runs share the walk out.
@pytest.mark.parametrize("route", ROUTES)
def test_every_public_history_and_account_url_refuses_bad_values_without_a_500(
    superuser_client, document, route
):
    change = ChangeSet.objects.order_by("-sequence").first().pk
    base = filled(route, document)
    urls = [filled(route, document, value) for value in CORPUS if "<" in route]
    for value in CORPUS:
        urls.append(f"{base}?" + "&".join(f"{name}={value}" for name in QUERY_NAMES))
        if re.search(r"<(?:\w+:)?reference>/", route):  # a good point beside a bad one
            urls.append(f"{base}?at={change}&from={value}&to={change}")
            urls.append(f"{base}?from={change}&to={value}")
    # One at a time, so that no parameter refused first hides a later one.
    for value in NUMBERS_AND_DATES:
        urls += [f"{base}?{name}={value}" for name in QUERY_NAMES]

    assert served_errors(superuser_client, urls) == []
    anonymous = Client(raise_request_exception=False)
    public = [url for url in urls if url.startswith("/guidance/") and "&" in url]
    assert served_errors(anonymous, public) == []


def bad_admin_urls(key, route, records):
    """The admin URL with each bad value in place of its record's id, and in its query."""
    urls = []
    url = url_for(key, route, records)
    model = route.split("/")[1] if "/" in route else ""
    if model in records and ("<path:object_id>" in route or "<int:pk>" in route):
        pk = str(records[model].pk)
        urls += [url.replace(f"/{pk}/", f"/{quote(value, safe='%')}/") for value in CORPUS]
    if key.endswith("_changelist") or key == "autocomplete":
        joiner = "&" if "?" in url else "?"
        for value in CORPUS:
            urls.append(url + joiner + "&".join(f"{n}={value}" for n in ADMIN_QUERY_NAMES))
        for value in NUMBERS_AND_DATES:
            urls += [f"{url}{joiner}{name}={value}" for name in ADMIN_QUERY_NAMES]
    return urls


ADMIN_ROUTES = list(admin_urls())


def test_the_admin_walk_sends_over_300_bad_urls(records):
    assert sum(len(bad_admin_urls(key, route, records)) for key, route in ADMIN_ROUTES) > 300


# A test for each admin route too, so that parallel runs share the walk out.
@pytest.mark.parametrize(("key", "route"), ADMIN_ROUTES, ids=[key for key, _ in ADMIN_ROUTES])
def test_every_admin_url_refuses_bad_values_without_a_500(superuser_client, records, key, route):
    assert served_errors(superuser_client, bad_admin_urls(key, route, records)) == []


@pytest.mark.parametrize("number", ["1000000", "99999999999999999999", "-5", "1e3", "%00"])
def test_a_guidance_number_out_of_range_in_the_admin_is_a_form_error(superuser_client, number):
    response = superuser_client.post(
        reverse("admin:guidance_guidance_add"),
        {
            "programme": "HTG",
            "number": number,
            "title": "A new document",
            "status": "draft",
            "change_reason": "Trying a large number",
        },
    )
    assert response.status_code in (200, 302), response.status_code
    if number == "1000000":
        assert Guidance.objects.filter(reference="HTG1000000").exists() or (
            "number" in response.content.decode()
        )
    else:
        assert not Guidance.objects.filter(title="A new document").exists()


def test_an_oversized_request_body_is_refused(superuser_client, document):
    make_chapter(document, "9", "Another")
    response = superuser_client.post(
        reverse("admin:guidance_guidance_add"),
        {"title": "x" * (3 * 1024 * 1024), "change_reason": "Too big"},
    )
    assert response.status_code == 400
