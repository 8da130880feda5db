import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from guidance.history import recording
from guidance.models import ChangeSet
from tests.factories import make_auditor, make_document, make_guidance, make_user

pytestmark = pytest.mark.django_db


def some_history():
    erin = make_user("erin", groups=["Editors"])
    pat = make_user("pat", groups=["Publishers"])
    htg = make_document("HTG900", chapters=1, recommendations=1, user=erin, reason="Imported")
    ipg = make_guidance("IPG900", user=pat, reason="=HYPERLINK(evil)")
    with recording(user=erin, reason="Reworded", kind="major", guidance=htg, source="admin"):
        block = htg.blocks.get()
        block.text = "Reworded."
        block.save()
    with recording(user=pat, reason="Typo", kind="minor", guidance=ipg, source="admin"):
        ipg.title = "Fixed title"
        ipg.save()
    return erin, pat


def log(client, **filters):
    if not client.session.get("_auth_user_id"):
        client.force_login(make_auditor())
    return client.get(reverse("audit:log"), filters)


def reasons(response):
    return [change.reason for change in response.context["changes"]]


def test_the_log_lists_every_change_newest_first(client):
    client.force_login(make_auditor())  # making an account is a change of its own
    some_history()
    assert reasons(log(client))[:2] == ["Typo", "Reworded"]


def test_the_log_filters_by_user(client):
    some_history()
    assert set(reasons(log(client, user="pat"))) == {"=HYPERLINK(evil)", "Typo"}


def test_the_log_filters_by_document_including_its_parts(client):
    some_history()
    found = reasons(log(client, guidance="htg900"))
    assert "Reworded" in found and "Imported" in found
    assert "Typo" not in found


def test_the_log_filters_by_programme_kind_and_source(client):
    some_history()
    assert reasons(log(client, programme="IPG")) == ["Typo"]
    assert reasons(log(client, kind="major")) == ["Reworded"]
    assert set(reasons(log(client, source="admin"))) == {"Reworded", "Typo"}


def test_the_log_filters_by_date_range(client):
    some_history()
    today = timezone.localdate()
    assert len(reasons(log(client, start=today, end=today))) == ChangeSet.objects.count()
    tomorrow = today + datetime.timedelta(days=1)
    assert reasons(log(client, start=tomorrow)) == []
    assert reasons(log(client, end=today - datetime.timedelta(days=1))) == []


def test_bad_filters_are_refused_with_a_clear_message(client):
    some_history()
    response = log(client, user="nobody", start="2026-13-45", guidance="XYZ1")
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is no user called nobody." in html
    assert "Enter the &#x27;from&#x27; date as YYYY-MM-DD." in html
    assert "There is no guidance XYZ1." in html


def test_the_filtered_rows_export_as_csv(client):
    some_history()
    client.force_login(make_auditor())
    response = client.get(reverse("audit:log-csv"), {"user": "pat"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "sequence",
        "recorded at",
        "took effect",
        "effective precision",
        "user",
        "reason",
        "kind",
        "source",
        "document",
        "digest",
    ]
    assert [row[5] for row in rows[1:]] == ["Typo", "'=HYPERLINK(evil)"]
    assert rows[1][8] == "IPG900" and rows[1][6] == "minor"
    # Changes made in the registry take effect when they are recorded.
    assert rows[1][2] == rows[1][1] and rows[1][3] == "exact"


def test_the_log_pages_without_counting_the_whole_history(client, django_assert_max_num_queries):
    make_document("HTG901", chapters=1, recommendations=1)
    for n in range(55):
        with recording(reason=f"Change {n}"):
            make_guidance(f"HTG{910 + n}")
    client.force_login(make_auditor())
    # has_perm reads the user's own and their groups' permissions (two queries), and the
    # area shows the latest verdict of the history's verification (one).
    with django_assert_max_num_queries(10):
        first = log(client)
    assert first.context["has_next"]
    assert len(first.context["changes"]) == 50
    second = log(client, page=2)
    assert not second.context["has_next"]


def test_the_history_area_shows_the_chain_head(client):
    client.force_login(make_auditor())  # making an account is a change of its own
    second_auditor = make_auditor("auditor2")
    some_history()
    head = ChangeSet.objects.order_by("-sequence").first()
    html = log(client).content.decode()
    assert f"{head.sequence}:{head.digest}" in html
    client.force_login(second_auditor)
    assert f"{head.sequence}:{head.digest}" in client.get(reverse("audit:index")).content.decode()


def test_a_cached_log_shows_a_new_change_on_the_next_request(
    client, django_capture_on_commit_callbacks
):
    some_history()
    first = log(client, user="erin").content
    assert log(client, user="erin").content == first  # served again from the cache
    with (
        django_capture_on_commit_callbacks(execute=True),
        recording(user=make_user("erin2"), reason="Not erin's"),
    ):
        make_guidance("HTG990")
    assert log(client, user="erin").content.decode().count("<tr>") == first.decode().count("<tr>")
    erin = ChangeSet.objects.filter(user__username="erin").first().user
    with (
        django_capture_on_commit_callbacks(execute=True),
        recording(user=erin, reason="Erin again"),
    ):
        make_guidance("HTG991")
    html = log(client, user="erin").content.decode()
    assert "Erin again" in html
    head = ChangeSet.objects.order_by("-sequence").first()
    assert f"{head.sequence}:{head.digest}" in html
