"""The public API as its clients meet it: search, documents, history, changes, caching, limits."""

import datetime
import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.http import QueryDict
from django.test import override_settings

from guidance.models import (
    Block,
    GuidanceStatus,
    Programme,
    RelationType,
    ResponsibilityStatement,
)
from guidance.public.forms import SearchForm
from tests.factories import (
    make_chapter,
    make_document,
    make_guidance,
    make_relation,
    make_update_entry,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def samples():
    call_command("load_samples", stdout=io.StringIO(), stderr=io.StringIO())


def references(response):
    assert response.status_code == 200, response.content
    return [g["reference"] for g in response.json()["results"]]


def test_search_gives_what_the_sites_search_form_gives(client, samples):
    make_document("IPG100", title="A withdrawn procedure", status=GuidanceStatus.WITHDRAWN)
    for query in [
        "",
        "q=venoplasty",
        "q=ipg640",
        "programme=HTG",
        "status=withdrawn",
        "published_from=2019-01-01&published_to=2019-12-31",
        "sort=title",
    ]:
        expected = SearchForm(QueryDict(query)).results().values_list("reference", flat=True)
        assert references(client.get(f"/api/v1/guidance/?{query}")) == list(expected), query


def test_a_refused_search_is_a_400_naming_the_field(client):
    response = client.get("/api/v1/guidance/?published_from=soon&programme=XYZ")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"published_from", "programme"}


def test_the_cursor_keeps_its_place_when_guidance_is_published_meanwhile(client):
    for number in range(1, 6):
        make_guidance(f"IPG{number}", published_on=f"2019-0{number}-01")
    first = client.get("/api/v1/guidance/?page_size=2").json()
    assert [g["reference"] for g in first["results"]] == ["IPG5", "IPG4"]
    assert first["count"] == 5 and first["previous"] is None

    make_guidance("IPG6", published_on="2020-01-01")  # newest: it sorts before the cursor
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    assert [g["reference"] for g in second["results"]] == ["IPG3", "IPG2"]
    assert [g["reference"] for g in third["results"]] == ["IPG1"]
    assert third["next"] is None
    back = client.get(third["previous"]).json()
    assert [g["reference"] for g in back["results"]] == ["IPG3", "IPG2"]


def test_one_guidance_is_the_documented_json_contract_in_any_case(client, samples):
    out = io.StringIO()
    call_command("export_guidance", "HTG501", "--format", "json", stdout=out)
    exported = json.loads(out.getvalue())

    for reference in ["htg501", "HTG501", "Htg501"]:
        response = client.get(f"/api/v1/guidance/{reference}/")
        assert response.status_code == 200
        assert response.json() == exported


def test_a_former_reference_redirects_to_the_current_document(client, samples):
    for path in ["", "chapters/", "history/", "fhir/"]:
        response = client.get(f"/api/v1/guidance/IPG640/{path}")
        assert response.status_code == 301
        assert response["Location"] == f"http://testserver/api/v1/guidance/htg501/{path}"


def test_parts_of_a_document_are_its_contracts_parts(client, samples):
    exported = client.get("/api/v1/guidance/htg501/").json()
    for path, key in [
        ("chapters", "chapters"),
        ("recommendations", "recommendations"),
        ("relations", "relations"),
        ("update-information", "update_information"),
    ]:
        assert client.get(f"/api/v1/guidance/htg501/{path}/").json() == {
            "reference": "HTG501",
            key: exported[key],
        }


def test_the_public_history_names_the_reference_in_force_at_each_event(client, samples):
    events = client.get("/api/v1/guidance/htg501/history/").json()["events"]
    summary = [(e["type"], e["reference"], e["related"]) for e in events]
    assert summary[0] == ("published", "IPG640", None)
    assert ("migrated", "HTG501", "IPG640") in summary
    assert ("replaces", "HTG501", "IPG420") in summary
    assert events[0]["date"] == {"date": "2019-01-30", "precision": "day"}


def test_withdrawal_is_in_the_public_history_with_its_explanation(client, as_editor):
    guidance = make_document("IPG100")
    guidance.withdraw(by=as_editor.user, reason="Internal: vendor stopped", explanation="Gone.")
    events = client.get("/api/v1/guidance/ipg100/history/").json()["events"]
    assert events[-1]["type"] == "withdrawn"
    assert events[-1]["text"] == "Gone."
    assert events[-1]["date"]["precision"] == "day"


def test_the_api_never_shows_a_draft_or_who_changed_what_and_why(client, samples, as_editor):
    jane = make_user("jane-editor", first_name="Jane", last_name="Secretname")
    draft = make_document("IPG777", status=GuidanceStatus.DRAFT, title="Unannounced procedure")
    make_relation(draft, RelationType.REPLACES, make_guidance("IPG778"))
    htg501 = make_document("IPG779")
    with as_editor("Reason only auditors read"):
        block = htg501.blocks.get(number="2.1")
        block.text = "Reworded."
        block.save()
    make_update_entry(htg501, "Changed.", date=None)
    make_guidance("IPG780", user=jane, reason="Jane's private reason")

    urls = ["/api/v1/guidance/", "/api/v1/guidance/?q=unannounced", "/api/v1/changes/"]
    for reference in ["ipg778", "ipg779", "ipg780", "htg501"]:
        urls += [
            f"/api/v1/guidance/{reference}/{part}"
            for part in ["", "relations/", "history/", "fhir/", "chapters/"]
        ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for secret in [
            "IPG777",
            "Unannounced",
            "jane-editor",
            "Secretname",
            "test-editor",
            "Reason only auditors read",
            "Jane's private reason",
            "Test data",
        ]:
            assert secret not in text, (url, secret)
    for part in ["", "history/", "fhir/", "relations/"]:
        assert client.get(f"/api/v1/guidance/ipg777/{part}").status_code == 404


def test_the_changes_feed_tells_what_changed_since_the_clients_cursor(
    client, as_editor, django_capture_on_commit_callbacks
):
    guidance = make_document("IPG200")
    draft = make_document("IPG201", status=GuidanceStatus.DRAFT)
    cursor = client.get("/api/v1/changes/").json()["cursor"]

    with django_capture_on_commit_callbacks(execute=True):
        with as_editor():
            block = guidance.blocks.get(number="2.1")
            block.text = "Reworded."
            block.save()
        with as_editor():  # a draft's edit is not told
            draft.title = "Still a draft"
            draft.save()
        draft.publish(by=as_editor.user, reason="Ready")

    feed = client.get(f"/api/v1/changes/?since={cursor}").json()
    told = [(g["reference"], g["parts"]) for c in feed["changes"] for g in c["guidance"]]
    assert told == [("IPG200", ["chapters"]), ("IPG201", ["record"])]
    assert [int(c["cursor"]) for c in feed["changes"]] == sorted(
        int(c["cursor"]) for c in feed["changes"]
    )
    assert feed["more"] is False
    assert client.get(feed["next"]).json()["changes"] == []


def test_the_changes_feed_tells_a_programmes_new_responsibility_wording(client, as_editor):
    cursor = client.get("/api/v1/changes/").json()["cursor"]
    with as_editor():
        ResponsibilityStatement.objects.create(
            programme=Programme.objects.get(code="HTG"),
            applies_from=datetime.date(2026, 2, 1),
            text="New wording.",
        )
    (change,) = client.get(f"/api/v1/changes/?since={cursor}").json()["changes"]
    assert (change["programmes"], change["guidance"]) == (["HTG"], [])


def test_answers_carry_an_etag_and_are_purged_when_a_change_commits(
    client, as_editor, django_capture_on_commit_callbacks, django_assert_num_queries
):
    guidance = make_document("IPG300", title="Old title")
    first = client.get("/api/v1/guidance/ipg300/")
    assert {"public", "max-age=0"} <= set(first["Cache-Control"].split(", "))
    with django_assert_num_queries(0):  # kept by the page cache
        again = client.get("/api/v1/guidance/ipg300/", headers={"if-none-match": first["ETag"]})
    assert again.status_code == 304

    with django_capture_on_commit_callbacks(execute=True), as_editor():
        guidance.title = "New title"
        guidance.save()

    changed = client.get("/api/v1/guidance/ipg300/", headers={"if-none-match": first["ETag"]})
    assert changed.status_code == 200
    assert changed.json()["title"] == "New title"
    assert changed["ETag"] != first["ETag"]


@override_settings(GUIDANCE_PAGE_CACHE=False)
def test_answers_carry_an_etag_without_the_page_cache_too(client):
    make_document("IPG301")
    first = client.get("/api/v1/guidance/ipg301/recommendations/")
    again = client.get(
        "/api/v1/guidance/ipg301/recommendations/", headers={"if-none-match": first["ETag"]}
    )
    assert again.status_code == 304


def test_cors_is_open_for_reading_the_api_only(client):
    make_document("IPG302")
    response = client.get("/api/v1/guidance/ipg302/", headers={"origin": "https://app.example"})
    assert response["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/api/v1/guidance/ipg302/",
        headers={"origin": "https://app.example", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert client.head("/api/v1/guidance/ipg302/")["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get("/guidance/ipg302/")
    assert client.post("/api/v1/guidance/").status_code == 405


def test_each_client_is_rate_limited_cached_answers_included(client):
    make_document("IPG303")
    limited = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/minute"}}
    with override_settings(REST_FRAMEWORK=limited):
        statuses = [client.get("/api/v1/guidance/ipg303/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/api/v1/guidance/ipg303/")
        assert int(refused["Retry-After"]) > 0
        assert refused["Cache-Control"] == "no-store"
        other = client.get("/api/v1/guidance/ipg303/", REMOTE_ADDR="192.0.2.9")
        assert other.status_code == 200


def test_recommendations_keep_their_categories(client, as_editor):
    guidance = make_guidance("IPG304")
    make_chapter(
        guidance, blocks=[(Block.Kind.RECOMMENDATION, "1.1", "Use with special arrangements.")]
    )
    with as_editor():
        block = guidance.blocks.get()
        block.category = "special arrangements"
        block.save()
    response = client.get("/api/v1/guidance/ipg304/recommendations/").json()
    (recommendation,) = response["recommendations"]
    assert recommendation["category"] == "special arrangements"


@override_settings(GUIDANCE_PAGE_CACHE=False)
@pytest.mark.parametrize("chapters", [2, 12])
def test_a_document_is_read_in_a_fixed_number_of_queries(
    client, chapters, django_assert_max_num_queries
):
    guidance = make_document("IPG400", chapters=chapters, paragraphs=8)
    make_relation(guidance, RelationType.REPLACES, make_guidance("IPG401"))
    make_update_entry(guidance)
    for path in ["", "fhir/", "history/"]:
        with django_assert_max_num_queries(16):
            assert client.get(f"/api/v1/guidance/ipg400/{path}").status_code == 200
    with django_assert_max_num_queries(2):
        assert client.get("/api/v1/guidance/?page_size=100").status_code == 200
