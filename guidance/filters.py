"""Form fields that the public list and the audit log filter by: plain GET forms."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Programme


def date_filter(label, name):
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the '%(name)s' date as YYYY-MM-DD.") % {"name": name}},
    )


def programme_filter():
    return forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Programme.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All programmes"),
    )
