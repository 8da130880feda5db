"""A date alone means the end of that day, on every page of the history area."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from guidance.history import recording
from tests.factories import make_auditor, make_document, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def edited_today(client):
    document = make_document("HTG801", chapters=1, recommendations=1)
    with recording(user=make_user("editor"), reason="Today's edit", guidance=document):
        block = document.blocks.get(number="1.1")
        block.text = "Wording changed today."
        block.save()
    client.force_login(make_auditor())
    return timezone.localdate()


def test_as_it_stood_on_a_date_includes_that_days_changes(client, edited_today):
    response = client.get(
        reverse("audit:as-it-stood", args=["htg801"]), {"at": edited_today.isoformat()}
    )
    assert "Wording changed today." in response.content.decode()


def test_the_diff_from_the_day_before_to_a_date_shows_that_days_changes(client, edited_today):
    yesterday = edited_today - datetime.timedelta(days=1)
    response = client.get(
        reverse("audit:diff", args=["htg801"]),
        {"from": yesterday.isoformat(), "to": edited_today.isoformat()},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Wording changed today." in html


def test_the_log_to_a_date_includes_that_days_changes(client, edited_today):
    response = client.get(
        reverse("audit:log"), {"start": edited_today.isoformat(), "end": edited_today.isoformat()}
    )
    assert "Today&#x27;s edit" in response.content.decode()
