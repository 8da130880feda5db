"""Forms of the editor workflows: every one asks why, and checks before anything is written."""

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.formsets import BaseFormSet, formset_factory
from django.forms.models import BaseInlineFormSet
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from .. import editions
from ..models import (
    Block,
    ChangeKind,
    Chapter,
    Guidance,
    GuidanceStatus,
    MalformedReference,
    Programme,
    RecommendationCategory,
    RefusedChange,
    RelationType,
    chapter_slug,
    split_reference,
)
from . import services

REASON_HELP = _("Why you are making this change. Kept with the change for auditors; not public.")


def reason_field():
    return forms.CharField(
        label=_("Reason for this change"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=REASON_HELP,
        error_messages={"required": _("Say why you are making this change.")},
    )


class MonthField(forms.DateField):
    """A month written as 2026-01 (or a date, of which only the month is kept)."""

    input_formats = ["%Y-%m", "%Y-%m-%d", "%B %Y"]
    default_error_messages = {"invalid": _("Enter a month as YYYY-MM, e.g. 2026-01.")}

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace(day=1) if value else value


# A reference has at most six digits (REFERENCE_PATTERN): HTG999999.
LARGEST_NUMBER = 999_999


def limit_guidance_number(field):
    field.min_value, field.max_value = 1, LARGEST_NUMBER
    field.validators = [
        *field.validators,
        MinValueValidator(1),
        MaxValueValidator(LARGEST_NUMBER),
    ]
    field.error_messages = {
        **field.error_messages,
        "max_value": _("A guidance number has at most six digits (999999 at most)."),
    }
    field.widget.attrs.update(min=1, max=LARGEST_NUMBER)


class ReasonForm(forms.ModelForm):
    """A model form that asks why the change is made (the admin records it with the change)."""

    change_reason = reason_field()


def editable_fields(model, *, leaving_out=()):
    """Names of the fields of a model that a form may edit, in the model's order."""
    return [
        field.name
        for field in model._meta.concrete_fields
        if field.editable and not field.auto_created and field.name not in leaving_out
    ]


class GuidanceAdminForm(forms.ModelForm):
    change_reason = reason_field()
    change_kind = forms.ChoiceField(
        label=_("Major or minor"),
        required=False,
        choices=ChangeKind.choices,
        initial=ChangeKind.MINOR,
        widget=forms.RadioSelect,
        help_text=_(
            "Major: the recommendations or what they rest on changed; published guidance then "
            "shows today as 'Last updated'. Minor: corrections and wording; 'Last updated' stays."
        ),
    )
    update_text = forms.CharField(
        label=_("Update information"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_(
            "For a major change to published guidance: what changed, as the public will read "
            "it under 'Update information'."
        ),
    )
    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Guidance
        # Every field of the model but the save counter, which opened_version carries through
        # the form; the admin's fieldsets say where each one shows.
        fields = editable_fields(Guidance, leaving_out=["version"])
        widgets = {"title": forms.TextInput(attrs={"size": 90})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "number" in self.fields:
            limit_guidance_number(self.fields["number"])
        if self.instance.pk:
            self.fields["opened_version"].initial = self.instance.version
            if self.instance.pending_update_text:
                self.fields["update_text"].initial = self.instance.pending_update_text
                self.fields["change_kind"].initial = ChangeKind.MAJOR

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and "programme" in cleaned and cleaned.get("number"):
            reference = f"{cleaned['programme'].code}{cleaned['number']}"
            if Guidance.objects.filter(reference=reference).exists():
                raise forms.ValidationError(
                    _("%(reference)s already exists: open it instead of adding it again."),
                    params={"reference": reference},
                )
            self.instance.reference = reference
        if problem := editions.published_date_problem(cleaned.get("published_on"), self.instance):
            self.add_error("published_on", problem)
        if self.is_major_change_to_public_guidance() and not cleaned.get("update_text", "").strip():
            self.add_error(
                "update_text",
                _("A major change to published guidance needs its update-information wording."),
            )
        self.refuse_if_saved_meanwhile(cleaned.get("opened_version"))
        return cleaned

    def is_major_change_to_public_guidance(self):
        return (
            self.cleaned_data.get("change_kind") == ChangeKind.MAJOR
            and self.instance.pk is not None
            and (self.instance.is_edition or GuidanceStatus(self.instance.status).is_public)
            and not self.instance.is_stub
        )

    def refuse_if_saved_meanwhile(self, opened_version):
        # The admin locks the row before this form is built, so self.instance is current.
        if self.instance.pk is None or opened_version == self.instance.version:
            return
        raise saved_meanwhile(self.instance)


def saved_meanwhile(guidance):
    """The refusal of a save made on a version someone else has since saved over."""
    latest = Guidance.history.filter(id=guidance.pk).select_related("history_user")
    latest = latest.order_by("-history_date", "-history_id").first()
    who = latest.history_user.get_full_name() or latest.history_user.get_username()
    when = formats.date_format(timezone.localtime(latest.history_date), "j F Y H:i")
    return forms.ValidationError(
        _(
            "%(reference)s was saved by %(who)s at %(when)s while you were editing it, so "
            "your changes were not saved. They are still in this form: open the guidance "
            "again in another tab to see the saved version, then make your changes there."
        ),
        code="saved-meanwhile",
        params={"reference": guidance.reference, "who": who, "when": when},
    )


class ChapterForm(forms.ModelForm):
    class Meta:
        model = Chapter
        fields = ["position", "number", "title", "slug"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _("Leave blank to make it from the number and title.")

    # Every chapter of the document is in the formset, whose own check finds two sharing a
    # place; comparing with the stored rows would refuse a swap, which is saved parked.
    def validate_unique(self):
        pass

    def validate_constraints(self):
        pass

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        return slug or chapter_slug(
            self.cleaned_data.get("number", ""), self.cleaned_data.get("title", "")
        )


class RelationInlineFormSet(BaseInlineFormSet):
    """Outgoing relations: no relation to itself, no replacement that goes round in a circle."""

    def clean(self):
        super().clean()
        for form in self.forms:
            # Read-only inlines (editors) have no such fields; unchanged rows were checked before.
            if "target" not in form.fields or not form.has_changed():
                continue
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            target = form.cleaned_data.get("target")
            relation_type = form.cleaned_data.get("type")
            if target is None or relation_type is None or self.instance.pk is None:
                continue
            current = services.current_document(target)
            if current != target and relation_type in services.REPLACING:
                # A former reference leads to its document: the replacement is of that document.
                form.cleaned_data["target"] = form.instance.target = current
                form.led_from = target
                target = current
            try:
                services.check_relation(
                    source=self.instance, target=target, relation_type=relation_type
                )
            except RefusedChange as refusal:
                form.add_error("target", str(refusal))


class GuidanceActionForm(ActionForm):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000)
    explanation = forms.CharField(
        label=_("Public explanation (withdrawals)"), required=False, max_length=2000
    )


class StatusForm(forms.Form):
    ACTIONS = [
        ("publish", _("Publish")),
        ("withdraw", _("Withdraw")),
        ("withdraw-temporarily", _("Withdraw temporarily")),
        ("reinstate", _("Reinstate")),
    ]

    action = forms.ChoiceField(label=_("Change the status to"), choices=ACTIONS)
    explanation = forms.CharField(
        label=_("Public explanation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Required for a withdrawal: shown on the guidance page."),
    )
    reason = reason_field()

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("action", "").startswith("withdraw")
            and not cleaned.get("explanation", "").strip()
        ):
            self.add_error("explanation", _("A withdrawal needs a public explanation."))
        return cleaned


class MigrateForm(forms.Form):
    programme = forms.ModelChoiceField(
        label=_("New programme"),
        queryset=Programme.objects.filter(is_active=True),
        to_field_name="code",
        help_text=_("Only programmes that still publish can take new references."),
    )
    number = forms.IntegerField(
        label=_("New number"),
        min_value=1,
        help_text=_("The number NICE assigned; never derived from the old one."),
    )

    def __init__(self, *args, guidance, **kwargs):
        self.guidance = guidance
        super().__init__(*args, **kwargs)
        limit_guidance_number(self.fields["number"])

    month = MonthField(
        label=_("Month of the migration"),
        initial=lambda: timezone.localdate().strftime("%Y-%m"),
        help_text=_("As YYYY-MM; NICE dates migrations to the month."),
    )
    reason = reason_field()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("programme") and cleaned.get("number"):
            new_reference = f"{cleaned['programme'].code}{cleaned['number']}"
            try:
                services.check_migration(self.guidance, new_reference)
            except RefusedChange as refusal:
                raise forms.ValidationError(str(refusal)) from None
            cleaned["new_reference"] = new_reference
        return cleaned


class ReplaceForm(forms.Form):
    """Record that the open document replaces another (or part of another)."""

    led_from = None  # a former reference given, which leads to the document replaced

    replaced = forms.CharField(
        label=_("Replaces (reference)"),
        max_length=20,
        help_text=_(
            "The older guidance, e.g. IPG420. It will show a 'replaced by' notice. A reference "
            "not yet in the registry is added as one known only from this notice."
        ),
    )
    partially = forms.BooleanField(
        label=_("Only partially replaces it"), required=False, initial=False
    )
    effective_on = MonthField(label=_("Month"), required=False, help_text=_("As YYYY-MM."))
    note = forms.CharField(
        label=_("Notice wording"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=_("As published, e.g. 'This guidance replaces IPG420.'"),
    )
    reason = reason_field()

    def __init__(self, *args, guidance, **kwargs):
        self.guidance = guidance
        super().__init__(*args, **kwargs)

    def clean_replaced(self):
        value = self.cleaned_data["replaced"]
        try:
            code, number = split_reference(value)
        except MalformedReference as error:
            raise forms.ValidationError(str(error)) from None
        existing = Guidance.objects.filter(reference=f"{code}{number}").first()
        if existing is not None:
            current = services.current_document(existing)
            if current != existing:
                self.led_from = existing
            return current
        programme = Programme.objects.filter(code=code).first()
        if programme is None:
            raise forms.ValidationError(
                _("There is no programme %(code)s, so %(reference)s cannot be a reference."),
                params={"code": code, "reference": f"{code}{number}"},
            )
        # Named only by this notice: recorded as a stub when the replacement is saved.
        return Guidance(
            reference=f"{code}{number}",
            programme=programme,
            number=number,
            is_stub=True,
            status=GuidanceStatus.PUBLISHED,
        )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("replaced"):
            relation_type = (
                RelationType.PARTIALLY_REPLACES
                if cleaned.get("partially")
                else RelationType.REPLACES
            )
            cleaned["relation_type"] = relation_type
            try:
                services.check_relation(
                    source=self.guidance, target=cleaned["replaced"], relation_type=relation_type
                )
            except RefusedChange as refusal:
                self.add_error("replaced", str(refusal))
        return cleaned


class BulkMigrateForm(forms.Form):
    csv_file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_(
            "Three columns: old reference, new reference, month (YYYY-MM), e.g. "
            "'IPG640,HTG501,2026-01'. A header row is allowed."
        ),
    )
    # Carries the file from the preview to the apply step, so what is applied is what was shown.
    csv_text = forms.CharField(widget=forms.HiddenInput, required=False)
    reason = reason_field()

    MAX_BYTES = 2_000_000

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("csv_file")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError(_("The file is too large (2 MB at most)."))
            try:
                cleaned["csv_text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        if not cleaned.get("csv_text", "").strip():
            raise forms.ValidationError(_("Choose a CSV file with at least one row."))
        return cleaned


class SubmitForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the publisher"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("What changed and why; kept with the change for auditors."),
        error_messages={"required": _("Tell the publisher what this draft changes.")},
    )


class ReviewForm(forms.Form):
    DECISIONS = [
        ("publish", _("Approve and publish now")),
        ("schedule", _("Approve and schedule")),
        ("send-back", _("Send back to the editor")),
    ]

    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.RadioSelect)
    publish_at = forms.DateTimeField(
        label=_("Go live at"),
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
        ),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text=_("For a scheduled publication (embargo): nothing goes live before it."),
    )
    comment = forms.CharField(
        label=_("Comment"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Why you approve it, or what the editor should change."),
        error_messages={"required": _("Say why you approve it or send it back.")},
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "schedule":
            publish_at = cleaned.get("publish_at")
            if publish_at is None:
                self.add_error("publish_at", _("Say when it goes live."))
            elif publish_at <= timezone.now():
                self.add_error(
                    "publish_at", _("That moment has passed: choose a later one or publish now.")
                )
        return cleaned


class BulletsField(forms.CharField):
    """A bullet list typed one bullet a line; whatever is typed on a line is one bullet."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        lines = (line.strip() for line in (value or "").splitlines())
        return [line for line in lines if line]

    def has_changed(self, initial, data):
        return self.to_python(self.prepare_value(initial)) != self.to_python(data)


class ChapterBlockForm(forms.Form):
    """One sub-heading, paragraph, recommendation or rationale on a chapter's page."""

    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=Block.Kind.choices, initial=Block.Kind.PARAGRAPH
    )
    number = forms.CharField(label=_("Number"), max_length=20, required=False)
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", "—"), *RecommendationCategory.choices],
        required=False,
        help_text=_("Recommendations only."),
    )
    level = forms.IntegerField(
        label=_("Heading level"),
        min_value=1,
        max_value=4,
        required=False,
        help_text=_("Sub-headings, rationales and research: 1 directly under the chapter."),
    )
    title = forms.CharField(label=_("Heading"), max_length=500, required=False)
    text = forms.CharField(
        label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    bullets = BulletsField(label=_("Bullets, one a line"), required=False)

    def legend(self):
        """What the row was when the page opened: '1.2.3 recommendation', 'sub-heading'."""
        if not self.initial.get("id"):
            return _("New paragraph or recommendation")
        kind = Block.Kind(self.initial["kind"]).label
        return f"{self.initial['number']} {kind}" if self.initial.get("number") else kind

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("category") and cleaned.get("kind") != Block.Kind.RECOMMENDATION:
            self.add_error("category", _("Only a recommendation has a category."))
        return cleaned


class ChapterBlockFormSet(BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # A place between two others (2.5) moves a paragraph there without renumbering them.
        form.fields["ORDER"] = forms.DecimalField(
            label=_("Place"),
            required=False,
            min_value=0,
            max_digits=8,
            decimal_places=3,
            initial=index + 1 if index < self.initial_form_count() else None,
            help_text=_("Its place on this page; 2.5 puts it between the 2nd and the 3rd."),
            widget=forms.NumberInput(attrs={"step": "any", "class": "place"}),
        )
        form.fields["DELETE"].label = _("Delete")


BlockFormSet = formset_factory(
    ChapterBlockForm,
    formset=ChapterBlockFormSet,
    extra=2,
    can_order=True,
    can_delete=True,
)


class ChapterPageForm(forms.Form):
    """What a save of a chapter's page asks besides its blocks: why, and how big a change."""

    renumber = forms.BooleanField(
        label=_("Renumber this chapter"),
        required=False,
        help_text=_(
            "Number the paragraphs and recommendations again in their new order (3.1, 3.2, "
            "3.3 …): a new one placed between 3.1 and 3.2 becomes 3.2, and those after it move up."
        ),
    )
    change_reason = reason_field()
    change_kind = GuidanceAdminForm.base_fields["change_kind"]
    update_text = GuidanceAdminForm.base_fields["update_text"]
    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, guidance, **kwargs):
        super().__init__(*args, **kwargs)
        self.guidance = guidance
        self.fields["opened_version"].initial = guidance.version
        self.asks_kind = guidance.is_edition or GuidanceStatus(guidance.status).is_public
        if not self.asks_kind:
            del self.fields["change_kind"], self.fields["update_text"]
        elif guidance.pending_update_text:
            self.fields["update_text"].initial = guidance.pending_update_text
            self.fields["change_kind"].initial = ChangeKind.MAJOR

    @property
    def is_minor(self):
        return self.asks_kind and self.cleaned_data.get("change_kind") != ChangeKind.MAJOR

    def clean(self):
        cleaned = super().clean()
        if self.asks_kind and not self.is_minor and not cleaned.get("update_text", "").strip():
            self.add_error(
                "update_text",
                _("A major change to published guidance needs its update-information wording."),
            )
        return cleaned
