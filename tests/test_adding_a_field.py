"""A field added to Guidance reaches the admin's forms and the audit diff without being listed
again; these tests name the place a field does not reach."""

import datetime

import pytest
from django.db import models
from django.urls import reverse

from guidance.audit import trail
from guidance.models import Guidance, Programme
from tests.factories import make_document, make_user

pytestmark = pytest.mark.django_db

NOT_EDITED = {"id", "version"}
# Set by workflows or made from other fields, never typed in when adding guidance.
NOT_ON_ADD_FORM = {
    "reference",
    "status",
    "status_explanation",
    "last_updated_on",
    "last_updated_precision",
}


def editable_names():
    return [
        field.name
        for field in Guidance._meta.concrete_fields
        if field.editable and field.name not in NOT_EDITED
    ]


@pytest.fixture
def publisher(client):
    user = make_user("publisher", groups=["Publishers"], is_staff=True)
    client.force_login(user)
    return user


def test_every_field_of_guidance_is_on_the_admin_change_form(client, publisher):
    guidance = make_document("HTG501", chapters=1)
    html = client.get(reverse("admin:guidance_guidance_change", args=[guidance.pk])).text
    for name in editable_names():
        assert f"field-{name}" in html, (
            f"Guidance.{name} is not on the admin's change form: place it in "
            "GuidanceAdmin.change_fieldsets (guidance/editorial/admin.py)"
        )


def test_every_field_typed_in_when_adding_guidance_is_on_the_add_form(client, publisher):
    html = client.get(reverse("admin:guidance_guidance_add")).text
    for name in editable_names():
        if name not in NOT_ON_ADD_FORM:
            assert f"field-{name}" in html, (
                f"Guidance.{name} is not on the admin's add form: place it in "
                "GuidanceAdmin.add_fieldsets (guidance/editorial/admin.py), or in "
                "NOT_ON_ADD_FORM here if editors never type it in when adding guidance"
            )


def other_value(record, field):
    value = getattr(record, field.attname)
    if field.choices:
        return next(choice for choice, _label in field.choices if choice != value)
    if isinstance(field, models.BooleanField):
        return not value
    if isinstance(field, models.DateField):
        return (value or datetime.date(2020, 1, 1)) + datetime.timedelta(days=400)
    if field.is_relation:
        return Programme.objects.exclude(pk=value).first().pk
    if isinstance(field, models.IntegerField):
        return value + 1
    return f"{value} changed"


def test_the_audit_diff_compares_every_field_of_guidance():
    document = make_document("HTG501", chapters=1, isbn="978-1", summary="A summary.")
    shown_with_another = {"number", "published_precision", "last_updated_precision"}
    for field in Guidance._meta.concrete_fields:
        if field.name in NOT_EDITED | shown_with_another:
            continue
        changed = Guidance.objects.get(pk=document.pk)
        setattr(changed, field.attname, other_value(document, field))
        assert trail._document_fields(changed) != trail._document_fields(document), (
            f"Guidance.{field.name} is not compared by the audit diff "
            "(guidance/audit/trail.py, compared_document_fields)"
        )
    # A precision is shown with its date.
    changed = Guidance.objects.get(pk=document.pk)
    changed.published_precision = "year"
    assert trail._document_fields(changed)["published"] == "2019"
