"""The public list's search and filters."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..filters import date_filter, programme_filter
from ..models import PUBLIC_STATUSES, Guidance


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search by keyword or reference"), required=False, max_length=200)
    programme = programme_filter()
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Any status"))] + [(s.value, s.label) for s in PUBLIC_STATUSES],
        required=False,
    )
    published_from = date_filter(_("Published from"), _("published from"))
    published_to = date_filter(_("Published to"), _("published to"))
    sort = forms.ChoiceField(
        label=_("Sort by"),
        choices=[
            ("", _("Relevance, then newest")),
            ("date", _("Date published, newest first")),
            ("title", _("Title, A to Z")),
        ],
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("published_from"), cleaned.get("published_to")
        if start and end and start > end:
            self.add_error(
                "published_to", _("The 'published to' date must be on or after 'published from'.")
            )
        return cleaned

    def results(self):
        """The public documents matching the search, or none when the form refused it."""
        if not self.is_valid():
            return Guidance.objects.none()
        data = self.cleaned_data
        results = Guidance.objects.published().select_related("programme")
        # Records known only from a notice are found by their reference, not listed.
        results = results.search(data["q"]) if data["q"] else results.documents()
        if data["programme"]:
            results = results.filter(programme=data["programme"])
        if data["status"]:
            results = results.filter(status=data["status"])
        if data["published_from"]:
            results = results.filter(published_on__gte=data["published_from"])
        if data["published_to"]:
            results = results.filter(published_on__lte=data["published_to"])
        if data["sort"] == "title":
            return results.order_by("title", "reference")
        if data["sort"] == "date" or not data["q"]:
            return results.newest_first()
        return results
