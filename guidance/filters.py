"""Form fields that the public list and the audit log filter by: plain GET forms."""

import datetime

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from .models import Programme

# Dates a filter accepts: guidance is no older, and a day further on must still be a date.
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)


def date_filter(label, name):
    out_of_range = _("Enter a '%(name)s' date between %(earliest)s and %(latest)s.") % {
        "name": name,
        "earliest": EARLIEST_DATE.isoformat(),
        "latest": LATEST_DATE.isoformat(),
    }
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the '%(name)s' date as YYYY-MM-DD.") % {"name": name}},
        validators=[
            MinValueValidator(EARLIEST_DATE, message=out_of_range),
            MaxValueValidator(LATEST_DATE, message=out_of_range),
        ],
    )


def programme_filter():
    return forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Programme.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All programmes"),
    )
