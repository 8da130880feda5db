"""The editors' interface: every save and delete is one recorded change with a reason."""

import copy

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import Prefetch
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .. import editions
from ..history import recording, set_change_guidance
from ..models import (
    EDITION_WORKFLOW_FIELDS,
    Block,
    ChangeKind,
    ChangeSet,
    Chapter,
    Endorsement,
    Guidance,
    GuidanceStatus,
    MalformedReference,
    Organisation,
    Programme,
    RefusedChange,
    Relation,
    RelationType,
    ResponsibilityStatement,
    UpdateEntry,
    normalise_reference,
)
from . import forms, services

AUDIT_PERMISSION = "guidance.view_audit"


def refuse_without_audit(request):
    """Who changed what, when and why is for readers of the audit history only."""
    if not request.user.has_perm(AUDIT_PERMISSION):
        raise PermissionDenied


class _NotSaved(Exception):
    """The view answered without saving (a form error): undo the change it was run in."""

    def __init__(self, response):
        self.response = response


def _saved(response):
    if response.status_code == 302:
        return True
    templates = getattr(response, "template_name", None) or []
    return any(str(name).endswith("popup_response.html") for name in templates)


CHANGE_FIELDSET = _("This change")


class RecordedChangeAdmin(SimpleHistoryAdmin):
    """Runs each save and delete as one recorded change, with the reason the editor gave.

    Every row the save writes (the record and all its inlines) shares that change.
    """

    form = forms.ReasonForm
    change_fields = ("change_reason",)
    delete_confirmation_template = "admin/guidance/delete_confirmation.html"

    def history_view(self, request, object_id, extra_context=None):
        refuse_without_audit(request)
        # simple-history filters by the id unchecked: a malformed id would be a 500, not a 404.
        try:
            self.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404(_("There is no record with the id %(id)s.") % {"id": object_id}) from None
        return super().history_view(request, object_id, extra_context)

    def may_save(self, request, obj):
        if getattr(request, "_viewing_history", False):
            return False
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    def get_base_fieldsets(self, request, obj=None):
        return super().get_fieldsets(request, obj)

    def get_change_fields(self, request, obj=None):
        return self.change_fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (name, {**options, "fields": self._without_change_fields(options["fields"])})
            for name, options in self.get_base_fieldsets(request, obj)
        ]
        if self.may_save(request, obj):
            fieldsets.append((CHANGE_FIELDSET, {"fields": self.get_change_fields(request, obj)}))
        return fieldsets

    def _without_change_fields(self, fields):
        return [field for field in fields if field not in self.change_fields]

    def change_kind(self, request):
        return ""

    def change_source(self, object_id):
        return ChangeSet.Source.ADMIN

    def lock_for_save(self, object_id):
        """Hold the row being saved until the change commits (nothing to hold by default)."""

    def run_recorded(self, request, view, *, object_id=None):
        reason = request.POST.get("change_reason", "")
        try:
            with recording(
                user=request.user,
                reason=reason,
                kind=self.change_kind(request),
                source=self.change_source(object_id),
            ):
                if object_id is not None:
                    self.lock_for_save(object_id)
                response = view()
                if not _saved(response):
                    raise _NotSaved(response)
        except _NotSaved as not_saved:
            return not_saved.response
        except IntegrityError:
            messages.error(
                request,
                _(
                    "Nothing was saved: two parts would share a position or number. Give "
                    "each a distinct one and save again."
                ),
            )
            return redirect(request.get_full_path())
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        def view():
            return super(RecordedChangeAdmin, self).changeform_view(
                request, object_id, form_url, extra_context
            )

        if request.method == "POST" and request.POST.get("change_reason", "").strip():
            return self.run_recorded(request, view, object_id=object_id)
        # Without a reason the form is refused before anything is written.
        return view()

    def delete_view(self, request, object_id, extra_context=None):
        def view():
            return super(RecordedChangeAdmin, self).delete_view(request, object_id, extra_context)

        if request.method != "POST":
            return view()
        if not request.POST.get("change_reason", "").strip():
            messages.error(request, _("Say why you are deleting it: nothing was deleted."))
            return redirect(request.get_full_path())
        return self.run_recorded(request, view)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        refuse_without_audit(request)
        # A past version is for reading: restoring one goes through the normal edit form.
        if request.method != "GET":
            raise PermissionDenied
        request._viewing_history = True
        return super().history_form_view(request, object_id, version_id, extra_context)


class EditionContentInline(admin.TabularInline):
    """A part of a document's content: changed only in a draft, never on published guidance."""

    def _published(self, obj):
        return obj is not None and editions.may_have_edition(obj)

    def has_add_permission(self, request, obj):
        return not self._published(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._published(obj) and super().has_delete_permission(request, obj)


class ChapterInline(EditionContentInline):
    model = Chapter
    form = forms.ChapterForm
    fields = ("position", "number", "title", "slug", "paragraphs")
    readonly_fields = ("paragraphs",)
    extra = 0

    @admin.display(description=_("paragraphs and recommendations"))
    def paragraphs(self, chapter):
        if chapter.pk is None:
            return _("Save the chapter first.")
        url = reverse("admin:guidance_chapter", args=[chapter.guidance_id, chapter.pk])
        return format_html('<a href="{}">{}</a>', url, _("Edit the paragraphs"))


class EndorsementInline(EditionContentInline):
    model = Endorsement
    autocomplete_fields = ("organisation",)
    fields = ("organisation", "statement")
    extra = 0


class UpdateEntryInline(EditionContentInline):
    model = UpdateEntry
    fields = ("position", "date", "precision", "kind", "text")
    extra = 0


class RelationInline(admin.TabularInline):
    model = Relation
    fk_name = "source"
    formset = forms.RelationInlineFormSet
    autocomplete_fields = ("target",)
    fields = ("type", "target", "effective_on", "effective_precision", "note", "position")
    extra = 0
    verbose_name = _("relation to other guidance")
    verbose_name_plural = _("relations to other guidance (this guidance … that guidance)")

    def get_queryset(self, request):
        # 'Migrated to' is made by the Migrate workflow only: it is shown as a former reference.
        return (
            super()
            .get_queryset(request)
            .exclude(type=RelationType.MIGRATED_TO)
            .select_related("target", "source")
        )

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "type":
            kwargs["choices"] = [
                choice for choice in RelationType.choices if choice[0] != RelationType.MIGRATED_TO
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(Guidance)
class GuidanceAdmin(RecordedChangeAdmin):
    form = forms.GuidanceAdminForm
    action_form = forms.GuidanceActionForm
    change_fields = ("change_reason", "change_kind", "update_text", "opened_version")
    list_display = ("reference", "title", "programme", "status", "published", "last_updated")
    list_filter = ("programme", "status", "is_stub")
    list_select_related = ("programme",)
    search_fields = ("reference", "title")
    search_help_text = _("Reference (current or former) or words of the title.")
    # Paragraphs and recommendations are edited a chapter at a time (chapter_view): one form
    # for all of them exceeds the thousand fields Django accepts in a request.
    inlines = (
        ChapterInline,
        EndorsementInline,
        UpdateEntryInline,
        RelationInline,
    )
    actions = ("publish", "withdraw", "withdraw_temporarily", "reinstate")
    change_form_template = "admin/guidance/guidance/change_form.html"
    change_list_template = "admin/guidance/guidance/change_list.html"

    def get_base_fieldsets(self, request, obj=None):
        return self.change_fieldsets if obj else self.add_fieldsets

    add_fieldsets = (
        (None, {"fields": ("programme", "number", "title", "summary", "notices")}),
        (
            _("Dates"),
            {
                "fields": (
                    ("published_on", "published_precision"),
                    ("last_reviewed_on", "last_reviewed_precision"),
                    ("review_decision_on", "review_decision_precision"),
                )
            },
        ),
        (_("Edition"), {"fields": ("isbn", "minor_changes_heading", "is_stub")}),
    )
    change_fieldsets = (
        (None, {"fields": ("reference", "title", "summary", "notices", "programme", "number")}),
        (
            _("Status and relations"),
            {
                "fields": ("status", "status_explanation", "former_references", "replaced_by"),
                "description": _(
                    "Status changes through 'Change status'; references through 'Migrate'."
                ),
            },
        ),
        (
            _("Dates"),
            {
                "fields": (
                    ("published_on", "published_precision"),
                    ("last_updated_on", "last_updated_precision"),
                    ("last_reviewed_on", "last_reviewed_precision"),
                    ("review_decision_on", "review_decision_precision"),
                )
            },
        ),
        (_("Edition"), {"fields": ("isbn", "minor_changes_heading", "is_stub")}),
        (
            _("Review"),
            {
                "fields": EDITION_WORKFLOW_FIELDS,
                "description": _("Changes through 'Submit for review' and 'Review'."),
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        fixed = (
            "status",
            "status_explanation",
            "last_updated_on",
            "last_updated_precision",
            *EDITION_WORKFLOW_FIELDS,
        )
        if obj is None:
            return fixed
        fixed = (*fixed, "reference", "programme", "number", "former_references", "replaced_by")
        if editions.may_have_edition(obj):
            # Published guidance changes through its draft edition; relations stay editable.
            return (*fixed, *editions.EDITION_FIELDS, "title")
        return fixed

    def get_change_fields(self, request, obj=None):
        if obj is not None and editions.may_have_edition(obj):
            return ("change_reason", "opened_version")
        return self.change_fields

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and obj.is_edition:
            # Relations belong to the published document, not to one of its editions.
            return [inline for inline in inlines if not isinstance(inline, RelationInline)]
        return inlines

    def change_source(self, object_id):
        if object_id is not None:
            edition = Guidance.with_editions.filter(pk=unquote(object_id)).draft_editions()
            if edition.exists():
                return ChangeSet.Source.DRAFT
        return ChangeSet.Source.ADMIN

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("programme")

    def get_object(self, request, object_id, from_field=None):
        # Draft editions are opened by id; the list shows documents only.
        queryset = Guidance.with_editions.select_related(
            "programme", "edition_of"
        ).prefetch_related(
            Prefetch(
                "inverse_relations",
                queryset=Relation.objects.select_related("source"),
            )
        )
        try:
            return queryset.get(pk=unquote(object_id))
        except (Guidance.DoesNotExist, ValueError):
            return None

    def view_on_site(self, obj):
        # A draft has no public page yet: show it as the public page will.
        if obj.status == GuidanceStatus.DRAFT or obj.is_edition:
            return reverse("admin:guidance_preview", args=[obj.pk])
        return obj.get_absolute_url()

    @admin.display(description=_("published"), ordering="published_on")
    def published(self, obj):
        return obj.published_display

    @admin.display(description=_("last updated"), ordering="last_updated_on")
    def last_updated(self, obj):
        return obj.last_updated_display

    def incoming_relations(self, obj, *types):
        relations = [r for r in obj.inverse_relations.all() if r.type in types]
        return (
            format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                (
                    (
                        reverse("admin:guidance_guidance_change", args=[r.source_id]),
                        r.source.reference,
                    )
                    for r in relations
                ),
            )
            or "-"
        )

    @admin.display(description=_("former references"))
    def former_references(self, obj):
        return self.incoming_relations(obj, RelationType.MIGRATED_TO)

    @admin.display(description=_("replaced by"))
    def replaced_by(self, obj):
        return self.incoming_relations(obj, RelationType.REPLACES, RelationType.PARTIALLY_REPLACES)

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            reference = normalise_reference(search_term)
        except MalformedReference:
            return results, may_have_duplicates
        former = Relation.objects.filter(
            type=RelationType.MIGRATED_TO, source__reference=reference
        ).values("target_id")
        return results | queryset.filter(reference=reference) | queryset.filter(
            pk__in=former
        ), may_have_duplicates

    def has_delete_permission(self, request, obj=None):
        # Published guidance is kept: it is withdrawn or replaced, never deleted.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not obj.was_ever_published())

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        may_delete_drafts = super().has_delete_permission(request, None)
        if obj is not None and may_delete_drafts and obj.was_ever_published():
            # Say why instead of a bare refusal: the editor can act on it.
            messages.error(
                request,
                _(
                    "%(reference)s was published, so it is kept: withdraw it (with a public "
                    "explanation) or record what replaces it."
                )
                % {"reference": obj.reference},
            )
            return self._back_to(obj)
        return super().delete_view(request, object_id, extra_context)

    def has_publish_permission(self, request):
        return request.user.has_perm("guidance.publish_guidance")

    def has_migrate_permission(self, request):
        return request.user.has_perm("guidance.migrate_guidance")

    def change_kind(self, request):
        # Adding a draft is neither: the choice is only offered when changing guidance.
        kind = request.POST.get("change_kind", "")
        return kind if kind in ChangeKind.values else ""

    def lock_for_save(self, object_id):
        # Two editors saving at once queue here; the second then sees the first's version.
        Guidance.with_editions.select_for_update().filter(pk=unquote(object_id)).first()

    def save_model(self, request, obj, form, change):
        if change:
            obj.version += 1
            if form.is_major_change_to_public_guidance():
                # Update information and 'Last updated' are dated when the draft goes live.
                obj.pending_update_text = form.cleaned_data["update_text"].strip()
        super().save_model(request, obj, form, change)
        # A draft that was never public may still be deleted, which a change naming it
        # would prevent; its history rows name it all the same.
        if obj.is_edition:
            set_change_guidance(obj.edition_of)
        elif obj.was_ever_published():
            set_change_guidance(obj)

    def save_formset(self, request, form, formset, change):
        if formset.model in (Chapter, UpdateEntry):
            services.park_moving_rows(formset)
        super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if (former := getattr(inline_form, "led_from", None)) is not None:
                messages.info(
                    request,
                    _(
                        "%(former)s now leads to %(current)s, so the replacement is recorded "
                        "against %(current)s."
                    )
                    % {
                        "former": former.reference,
                        "current": inline_form.instance.target.reference,
                    },
                )

    # Custom views: each needs its own permission and a form.

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path("bulk-migrate/", view(self.bulk_migrate_view), name="guidance_bulk_migrate"),
            path("<path:object_id>/migrate/", view(self.migrate_view), name="guidance_migrate"),
            path("<path:object_id>/replace/", view(self.replace_view), name="guidance_replace"),
            path("<path:object_id>/status/", view(self.status_view), name="guidance_status"),
            path("<path:object_id>/edition/", view(self.edition_view), name="guidance_edition"),
            path("<path:object_id>/submit/", view(self.submit_view), name="guidance_submit"),
            path("<path:object_id>/review/", view(self.review_view), name="guidance_review"),
            path("<path:object_id>/changes/", view(self.changes_view), name="guidance_changes"),
            path(
                "<path:object_id>/chapter/<int:chapter_id>/edit/",
                view(self.chapter_view),
                name="guidance_chapter",
            ),
            path("<path:object_id>/preview/", view(self.preview_view), name="guidance_preview"),
            path(
                "<path:object_id>/preview/chapter/<str:slug>/",
                view(self.preview_view),
                name="guidance_preview_chapter",
            ),
            path(
                "<path:object_id>/preview/history/",
                view(self.preview_history_view),
                name="guidance_preview_history",
            ),
            path(
                "<path:object_id>/preview/whole/",
                view(self.preview_whole_view),
                name="guidance_preview_whole",
            ),
            *super().get_urls(),
        ]

    def _object_or_404(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(_("No guidance with id %(id)s.") % {"id": object_id})
        return obj

    def _workflow_page(self, request, obj, form, title, template="workflow_form.html", **extra):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": title,
            "form": form,
            "media": self.media + form.media,
            **extra,
        }
        return TemplateResponse(request, f"admin/guidance/guidance/{template}", context)

    def _back_to(self, obj):
        return redirect("admin:guidance_guidance_change", obj.pk)

    def migrate_view(self, request, object_id):
        if not self.has_migrate_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, object_id)
        form = forms.MigrateForm(request.POST or None, guidance=obj)
        if request.method == "POST" and form.is_valid():
            old_reference = obj.reference
            try:
                services.migrate_guidance(
                    guidance=obj,
                    new_reference=form.cleaned_data["new_reference"],
                    month=form.cleaned_data["month"],
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except RefusedChange as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(
                    request,
                    _("%(old)s is now %(new)s; %(old)s leads to it.")
                    % {"old": old_reference, "new": form.cleaned_data["new_reference"]},
                )
                return self._back_to(obj)
        return self._workflow_page(
            request,
            obj,
            form,
            _("Migrate %(reference)s to a new reference") % {"reference": obj.reference},
        )

    def replace_view(self, request, object_id):
        if not self.has_migrate_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, object_id)
        form = forms.ReplaceForm(request.POST or None, guidance=obj)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                relation = services.replace_guidance(
                    guidance=obj,
                    replaced=data["replaced"],
                    partially=data["partially"],
                    effective_on=data["effective_on"],
                    note=data["note"],
                    user=request.user,
                    reason=data["reason"],
                )
            except RefusedChange as refusal:
                form.add_error(None, str(refusal))
            else:
                if form.led_from is not None:
                    messages.info(
                        request,
                        _(
                            "%(former)s now leads to %(current)s, so the replacement is "
                            "recorded against %(current)s."
                        )
                        % {"former": form.led_from.reference, "current": relation.target.reference},
                    )
                messages.success(request, _("Recorded: %(relation)s.") % {"relation": relation})
                return self._back_to(obj)
        return self._workflow_page(
            request,
            obj,
            form,
            _("Record what %(reference)s replaces") % {"reference": obj.reference},
        )

    def status_view(self, request, object_id):
        if not self.has_publish_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, object_id)
        form = forms.StatusForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                change_status(
                    obj, data["action"], request.user, data["reason"], data["explanation"]
                )
            except RefusedChange as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(
                    request,
                    _("%(reference)s is now %(status)s.")
                    % {"reference": obj.reference, "status": obj.get_status_display().lower()},
                )
                return self._back_to(obj)
        return self._workflow_page(
            request,
            obj,
            form,
            _("Change the status of %(reference)s") % {"reference": obj.reference},
        )

    def bulk_migrate_view(self, request):
        if not self.has_migrate_permission(request):
            raise PermissionDenied
        form = forms.BulkMigrateForm(request.POST or None, request.FILES or None)
        plan = None
        if request.method == "POST" and form.is_valid():
            csv_text = form.cleaned_data["csv_text"]
            if "apply" in request.POST:
                try:
                    plan = services.apply_bulk_migration(
                        csv_text=csv_text, user=request.user, reason=form.cleaned_data["reason"]
                    )
                except RefusedChange as refusal:
                    messages.error(request, str(refusal))
                    plan = services.plan_bulk_migration(csv_text)
                else:
                    messages.success(
                        request,
                        _("Migrated %(count)d guidance references as one change.")
                        % {"count": len(plan.rows)},
                    )
                    return redirect("admin:guidance_guidance_changelist")
            else:
                plan = services.plan_bulk_migration(csv_text)
            form = forms.BulkMigrateForm(
                initial={"csv_text": csv_text, "reason": form.cleaned_data["reason"]}
            )
        return self._workflow_page(
            request,
            None,
            form,
            _("Migrate references from a CSV file"),
            template="bulk_migrate.html",
            plan=plan,
        )

    def preview_view(self, request, object_id, slug=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, object_id)
        return render_preview(request, obj, "chapter" if slug else "overview", slug)

    def preview_history_view(self, request, object_id):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return render_preview(request, self._object_or_404(request, object_id), "history")

    def preview_whole_view(self, request, object_id):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return render_preview(request, self._object_or_404(request, object_id), "whole")

    # Editions and review.

    def edition_view(self, request, object_id):
        """Open the draft edition of published guidance, starting one if there is none."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._object_or_404(request, object_id)
        try:
            edition = editions.start_edition(document=obj, user=request.user)
        except RefusedChange as refusal:
            messages.error(request, str(refusal))
            return self._back_to(obj)
        return self._back_to(edition)

    def _draft_or_404(self, request, object_id):
        obj = self._object_or_404(request, object_id)
        if obj.status != GuidanceStatus.DRAFT:
            raise Http404(_("%(reference)s is not a draft.") % {"reference": obj.reference})
        return obj

    def submit_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        obj = self._draft_or_404(request, object_id)
        form = forms.SubmitForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                editions.submit_for_review(
                    draft=obj, user=request.user, note=form.cleaned_data["note"]
                )
            except RefusedChange as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(
                    request,
                    _("%(reference)s is waiting for a publisher's review.")
                    % {"reference": obj.reference},
                )
                return self._back_to(obj)
        return self._workflow_page(
            request,
            obj,
            form,
            _("Submit %(reference)s for review") % {"reference": obj.reference},
            template="review_form.html",
            differences=editions.differences(obj),
        )

    def review_view(self, request, object_id):
        if not self.has_publish_permission(request):
            raise PermissionDenied
        obj = self._draft_or_404(request, object_id)
        form = forms.ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            document = obj.document
            try:
                if data["decision"] == "publish":
                    editions.publish_draft(draft=obj, user=request.user, reason=data["comment"])
                    message = _("%(reference)s is published.")
                elif data["decision"] == "schedule":
                    editions.schedule(
                        draft=obj,
                        user=request.user,
                        reason=data["comment"],
                        publish_at=data["publish_at"],
                    )
                    message = _("%(reference)s will go live at the time you chose.")
                else:
                    editions.send_back(draft=obj, user=request.user, comment=data["comment"])
                    message = _("%(reference)s is sent back to its editor.")
            except RefusedChange as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, message % {"reference": obj.reference})
                if data["decision"] == "publish":
                    return self._back_to(document)
                return self._back_to(obj)
        return self._workflow_page(
            request,
            obj,
            form,
            _("Review %(reference)s") % {"reference": obj.reference},
            template="review_form.html",
            differences=editions.differences(obj),
        )

    def changes_view(self, request, object_id):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self._object_or_404(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": _("What publishing %(reference)s would change") % {"reference": obj.reference},
            "differences": editions.differences(obj) if obj.status == GuidanceStatus.DRAFT else [],
        }
        return TemplateResponse(request, "admin/guidance/guidance/changes.html", context)

    def chapter_view(self, request, object_id, chapter_id):
        """Edit one page of a chapter's blocks: insert, move, delete and renumber in one save."""
        obj = self._object_or_404(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        chapter = get_object_or_404(Chapter, pk=chapter_id, guidance=obj)
        if editions.may_have_edition(obj):
            messages.info(request, _("Published guidance is changed in a draft edition."))
            return self._back_to(obj)
        parts = services.chapter_parts(chapter)
        try:
            page = min(max(int(request.GET.get("page", 1)), 1), len(parts))
        except ValueError:
            page = 1
        part = parts[page - 1]
        initial = [
            {name: getattr(block, name) for name in ("id", *services.BLOCK_FIELDS)}
            for block in part
        ]
        data = request.POST if request.method == "POST" else None
        form = forms.ChapterPageForm(data, guidance=obj)
        formset = forms.BlockFormSet(data, initial=initial, prefix="blocks")
        earlier = services.earlier_numbers(part)
        for block_form, block in zip(formset.forms, part, strict=False):
            # A recommendation keeps its key through renumbering: say what it was numbered.
            block_form.earlier_numbers = earlier.get(block.key, [])
        if data is not None and all([form.is_valid(), formset.is_valid()]):
            try:
                with recording(
                    user=request.user,
                    reason=form.cleaned_data["change_reason"],
                    kind=form.cleaned_data.get("change_kind", ""),
                    source=self.change_source(object_id),
                ):
                    self._save_chapter_page(obj, chapter, part, form, formset)
            except _NotSaved:
                pass
            else:
                messages.success(
                    request,
                    _("Saved %(chapter)s of %(reference)s.")
                    % {"chapter": chapter.heading, "reference": obj.reference},
                )
                return redirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "chapter": chapter,
            "title": _("%(reference)s: %(chapter)s")
            % {
                "reference": obj.reference,
                "chapter": chapter.heading,
            },
            "form": form,
            "formset": formset,
            "pages": range(1, len(parts) + 1),
            "page": page,
            "media": self.media + form.media + formset.media,
        }
        return TemplateResponse(request, "admin/guidance/guidance/chapter_form.html", context)

    def _save_chapter_page(self, obj, chapter, part, form, formset):
        """Check the page against the locked document and write it, or raise _NotSaved."""
        locked = Guidance.with_editions.select_for_update().get(pk=obj.pk)
        if form.cleaned_data.get("opened_version") != locked.version:
            form.add_error(None, forms.saved_meanwhile(locked))
            raise _NotSaved(None)
        stored = {block.pk: block for block in part}
        rows, deleted = [], []
        for block_form in formset.deleted_forms:
            if (block := stored.get(block_form.cleaned_data.get("id"))) is not None:
                deleted.append(block)
        for block_form in formset.ordered_forms:
            values = {name: block_form.cleaned_data[name] for name in services.BLOCK_FIELDS}
            block_id = block_form.cleaned_data.get("id")
            if block_id is None:
                row = Block(guidance=obj, chapter=chapter, **values)
            elif block_id in stored:
                row = copy.copy(stored[block_id])
                for name, value in values.items():
                    setattr(row, name, value)
            else:
                block_form.add_error(None, _("This paragraph is no longer in this chapter."))
                continue
            row.form = block_form
            rows.append(row)
        if form.cleaned_data["renumber"]:
            services.renumber(rows, chapter.number)
        self._check_numbers(chapter, part, rows, form)
        if form.is_minor:
            self._refuse_minor_recommendation_changes(stored, rows, deleted, form)
        if not form.is_valid() or not formset.is_valid():
            raise _NotSaved(None)
        services.save_chapter_part(chapter=chapter, part=part, rows=rows, deleted=deleted)
        locked.version += 1
        if form.asks_kind and not form.is_minor:
            locked.pending_update_text = form.cleaned_data["update_text"].strip()
        locked.save()
        # As save_model: a draft never public stays deletable, so no change names it.
        if locked.is_edition:
            set_change_guidance(locked.edition_of)
        elif locked.was_ever_published():
            set_change_guidance(locked)

    def _check_numbers(self, chapter, part, rows, form):
        part_ids = {block.pk for block in part}
        taken = set(
            Block.objects.filter(chapter=chapter)
            .exclude(pk__in=part_ids)
            .exclude(number="")
            .values_list("number", flat=True)
        )
        for row in rows:
            if not row.number:
                continue
            if row.number in taken:
                message = _(
                    "Another paragraph in this chapter is numbered %(number)s: give each its "
                    "own number, or tick 'Renumber this chapter'."
                ) % {"number": row.number}
                row.form.add_error("number" if "number" in row.form.changed_data else None, message)
                if "number" not in row.form.changed_data:
                    form.add_error("renumber", message)
            taken.add(row.number)

    def _refuse_minor_recommendation_changes(self, stored, rows, deleted, form):
        reason = _(
            "A change to a recommendation's text, number or category is a major update "
            "(NICE): choose 'Major' and say what changed under 'Update information'."
        )
        refused = False
        for row in rows:
            before = stored.get(row.pk)
            is_recommendation = Block.Kind.RECOMMENDATION in (
                row.kind,
                before.kind if before else None,
            )
            if not is_recommendation:
                continue
            for name in ("text", "bullets", "number", "category", "kind"):
                if before is None or getattr(before, name) != getattr(row, name):
                    refused = True
                    field = "bullets" if name == "bullets" else name
                    if field in row.form.fields and not row.form.has_error(field):
                        row.form.add_error(field, reason)
                    break
        if any(block.kind == Block.Kind.RECOMMENDATION for block in deleted):
            refused = True
        if refused:
            form.add_error("change_kind", reason)

    # Actions on the change list: reason (and explanation) come from the action bar.

    def _run_action(self, request, queryset, action):
        reason = request.POST.get("reason", "").strip()
        explanation = request.POST.get("explanation", "").strip()
        if not reason:
            self.message_user(request, _("Give a reason in the action bar."), messages.ERROR)
            return
        for guidance in queryset:
            try:
                change_status(guidance, action, request.user, reason, explanation)
            except RefusedChange as refusal:
                self.message_user(request, str(refusal), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(reference)s is now %(status)s.")
                    % {
                        "reference": guidance.reference,
                        "status": guidance.get_status_display().lower(),
                    },
                    messages.SUCCESS,
                )

    @admin.action(description=_("Publish"), permissions=["publish"])
    def publish(self, request, queryset):
        self._run_action(request, queryset, "publish")

    @admin.action(description=_("Withdraw (needs a public explanation)"), permissions=["publish"])
    def withdraw(self, request, queryset):
        self._run_action(request, queryset, "withdraw")

    @admin.action(
        description=_("Withdraw temporarily (needs a public explanation)"),
        permissions=["publish"],
    )
    def withdraw_temporarily(self, request, queryset):
        self._run_action(request, queryset, "withdraw-temporarily")

    @admin.action(description=_("Reinstate"), permissions=["publish"])
    def reinstate(self, request, queryset):
        self._run_action(request, queryset, "reinstate")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        if form.has_error(NON_FIELD_ERRORS, code="saved-meanwhile"):
            # Someone else's save is not the editor's error to correct: say only what happened.
            context["errors"] = None
            context["saved_meanwhile"] = form.non_field_errors()
        may_edit = obj is not None and self.has_change_permission(request, obj)
        context.update(
            draft_edition=editions.draft_of(obj) if obj is not None else None,
            may_start_edition=may_edit and editions.may_have_edition(obj),
            change_fieldset_name=CHANGE_FIELDSET,
            may_publish=self.has_publish_permission(request),
            may_migrate=self.has_migrate_permission(request),
            status_choices=GuidanceStatus,
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_migrate": self.has_migrate_permission(request),
        }
        return super().changelist_view(request, extra_context)


def render_preview(request, guidance, page="overview", slug=None):
    """Render a record with the public pages' templates and context, whatever its status.

    Links to the record's own pages lead to their previews, and a banner leads back to the
    edit form.
    """
    from ..public import views  # noqa: PLC0415 - the public pages import the admin's models

    record = (
        Guidance.with_editions.select_related("programme", "edition_of")
        .prefetch_related(
            Prefetch("relations", queryset=Relation.objects.select_related("target__programme")),
            Prefetch(
                "inverse_relations", queryset=Relation.objects.select_related("source__programme")
            ),
        )
        .get(pk=guidance.pk)
    )
    if record.is_edition:
        # The draft shows as its document will: with its status and its relations.
        document = record.edition_of
        record.status, record.status_explanation = document.status, document.status_explanation
        document.with_public_relations()
        record.keep_public_relations([*document.relations.all(), *document.inverse_relations.all()])
    if page == "chapter":
        template, context = "guidance/chapter.html", views.chapter_context(record, slug)
    elif page == "history":
        template, context = "guidance/history.html", views.history_context(record)
    elif page == "whole":
        template, context = "guidance/whole.html", views.whole_document_context(record)
    else:
        template, context = "guidance/overview.html", views.overview_context(record)
    context["preview"] = {
        "edit_url": reverse("admin:guidance_guidance_change", args=[guidance.pk]),
        "changes_url": reverse("admin:guidance_changes", args=[guidance.pk]),
        "is_draft": record.status == GuidanceStatus.DRAFT or guidance.is_edition,
    }
    response = TemplateResponse(request, template, context)
    response.add_post_render_callback(lambda r: _links_inside_preview(r, guidance))
    return response


def _links_inside_preview(response, guidance):
    """Point the links to the record's public pages at their previews."""
    public = reverse("guidance:overview", args=[guidance.reference.lower()])
    preview = reverse("admin:guidance_preview", args=[guidance.pk])
    # reverse() writes every such link the same way, overview, chapters, history and whole.
    response.content = response.content.replace(
        f'href="{public}'.encode(), f'href="{preview}'.encode()
    )
    return response


def change_status(guidance, action, user, reason, explanation=""):
    """Run one of the status workflows by the name the forms use."""
    if action == "publish":
        return guidance.publish(by=user, reason=reason)
    if action == "withdraw":
        return guidance.withdraw(by=user, reason=reason, explanation=explanation)
    if action == "withdraw-temporarily":
        return guidance.withdraw(by=user, reason=reason, explanation=explanation, temporarily=True)
    if action == "reinstate":
        return guidance.reinstate(by=user, reason=reason)
    raise RefusedChange(f"Unknown status change {action!r}.")


@admin.register(Programme)
class ProgrammeAdmin(RecordedChangeAdmin):
    list_display = ("code", "name", "recommendation_vocabulary", "is_active")
    search_fields = ("code", "name")


@admin.register(ResponsibilityStatement)
class ResponsibilityStatementAdmin(RecordedChangeAdmin):
    list_display = ("programme", "applies_from", "applies_from_precision")
    list_filter = ("programme",)
    list_select_related = ("programme",)


@admin.register(Organisation)
class OrganisationAdmin(RecordedChangeAdmin):
    search_fields = ("name",)


@admin.register(ChangeSet)
class ChangeSetAdmin(admin.ModelAdmin):
    """Changes as they were recorded: read only, for readers of the audit history."""

    # The sequence is the order of changes; who as they were named when the change was made.
    list_display = ("sequence", "created_at", "username", "reason", "kind", "source", "guidance")
    ordering = ("-sequence",)
    list_filter = ("source", "kind")
    list_select_related = ("user", "guidance")
    search_fields = ("reason", "user__username", "guidance__reference")
    date_hierarchy = "created_at"

    def has_module_permission(self, request):
        return request.user.has_perm(AUDIT_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(AUDIT_PERMISSION)

    def history_view(self, request, object_id, extra_context=None):
        refuse_without_audit(request)
        return super().history_view(request, object_id, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecordedRolesAdmin:
    """Saves of accounts and groups are recorded changes, by whoever saved them."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        label = self.model._meta.verbose_name
        with recording(
            user=request.user,
            reason=f"{label.capitalize()} {'changed' if object_id else 'added'} in the admin",
            source=ChangeSet.Source.ADMIN,
        ):
            return super().changeform_view(request, object_id, form_url, extra_context)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(RecordedRolesAdmin, GroupAdmin):
    pass


@admin.register(User)
class AccountAdmin(RecordedRolesAdmin, UserAdmin):
    """Accounts are deactivated, never deleted: the history names who made each change."""

    def has_delete_permission(self, request, obj=None):
        return False
