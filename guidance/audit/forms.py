"""The audit log's filters."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from ..filters import date_filter, programme_filter
from ..models import ChangeKind, ChangeSet, Guidance, MalformedReference, normalise_reference
from . import trail


class AuditLogForm(forms.Form):
    user = forms.CharField(label=_("User name"), required=False, max_length=150)
    start = date_filter(_("From"), _("from"))
    end = date_filter(_("To"), _("to"))
    programme = programme_filter()
    guidance = forms.CharField(label=_("Document reference"), required=False, max_length=20)
    kind = forms.ChoiceField(
        label=_("Major or minor"),
        choices=[("", _("Any")), *ChangeKind.choices, ("none", _("Neither"))],
        required=False,
    )
    source = forms.ChoiceField(
        label=_("Made by"), choices=[("", _("Any")), *ChangeSet.Source.choices], required=False
    )

    def clean_user(self):
        username = self.cleaned_data["user"].strip()
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise forms.ValidationError(
                _("There is no user called %(name)s."), params={"name": username}
            )
        return user

    def clean_guidance(self):
        reference = self.cleaned_data["guidance"].strip()
        if not reference:
            return None
        try:
            reference = normalise_reference(reference)
            # A deleted draft's changes can still be listed.
            return Guidance.objects.get(reference=reference)
        except Guidance.DoesNotExist:
            if deleted := trail.deleted_document(reference):
                return deleted
            raise forms.ValidationError(
                _("There is no guidance %(reference)s."), params={"reference": reference}
            ) from None
        except MalformedReference:
            raise forms.ValidationError(
                _("There is no guidance %(reference)s."), params={"reference": reference}
            ) from None

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", _("The 'to' date must be on or after the 'from' date."))
        return cleaned

    def changes(self):
        return trail.audit_log(**self.cleaned_data)
