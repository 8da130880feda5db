"""The history area: read-only pages for auditors and publishers (permission view_audit)."""

import csv
import functools
import hashlib
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from .. import ledger
from ..models import (
    MAX_MIGRATION_HOPS,
    ChangeSet,
    Guidance,
    MalformedReference,
    RelationType,
    normalise_reference,
)
from ..public import page_cache
from . import trail
from .forms import AuditLogForm

LOG_PER_PAGE = 50


# Django's auth tables: the permission given to the user alone or through one of their groups.
VIEW_AUDIT_GRANTED = """
    SELECT 1 FROM auth_permission
    JOIN django_content_type ON django_content_type.id = auth_permission.content_type_id
    WHERE django_content_type.app_label = 'guidance' AND auth_permission.codename = 'view_audit'
      AND (
        auth_permission.id IN (
          SELECT permission_id FROM auth_user_user_permissions WHERE user_id = %(user)s)
        OR auth_permission.id IN (
          SELECT auth_group_permissions.permission_id FROM auth_group_permissions
          JOIN auth_user_groups ON auth_user_groups.group_id = auth_group_permissions.group_id
          WHERE auth_user_groups.user_id = %(user)s)
      )
"""


def may_audit(user):
    """user.has_perm("guidance.view_audit"), asking only about that permission.

    The model backend loads every permission of the user and of their groups (two queries and
    a set of all of them) on each request, and the same question through the ORM takes longer
    to build than the database takes to answer it: together they cost more than serving a
    cached history page.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    with connection.cursor() as cursor:
        cursor.execute(VIEW_AUDIT_GRANTED, {"user": user.pk})
        return cursor.fetchone() is not None


def auditors_only(view):
    """Anonymous: the sign-in page; signed in without view_audit: 403; GET only."""
    view_on_get = require_GET(view)

    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        # Checked on every request, before any cached page is served.
        if not may_audit(request.user):
            raise PermissionDenied
        return view_on_get(request, *args, **kwargs)

    return wrapped


def cached_until_next_change(view):
    """Serve a rendered history page again until the next change commits.

    History is append-only, so a page is wholly determined by its address and the changes
    recorded so far. Every committed change moves the history token of the page cache (see
    guidance.public.page_cache.purge), so the next request renders afresh, and a hit asks the
    database nothing beyond who the reader is. Every reader with view_audit sees the same
    pages, and the permission check runs first.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not getattr(settings, "GUIDANCE_PAGE_CACHE", True):
            return view(request, *args, **kwargs)
        # The token is read before the page is rendered: a change committed meanwhile moves it,
        # so a page is never kept under a token older than what it shows.
        path = hashlib.sha256(request.get_full_path().encode()).hexdigest()
        key = f"audit:v3:{path}"
        versions, content = page_cache.read([page_cache.HISTORY_TOKEN], key)
        if content is None:
            response = view(request, *args, **kwargs)
            if response.status_code != 200 or response.streaming:
                return response
            content = (dict(response.headers), response.content)
            if versions is not None:
                page_cache.keep(key, versions, content, page_cache.PAGE_TIMEOUT)
        headers, body = content
        return HttpResponse(body, headers=headers)

    return wrapper


def audited_document(reference):
    """The document a reference names, following migrations to the document that now holds it."""
    try:
        reference = normalise_reference(reference)
    except MalformedReference:
        raise Http404 from None
    record = get_object_or_404(Guidance, reference=reference)
    for _hop in range(MAX_MIGRATION_HOPS):
        migration = record.relations.filter(type=RelationType.MIGRATED_TO).first()
        if migration is None:
            break
        record = migration.target
    return record


@auditors_only
def index(request):
    reference = request.GET.get("reference", "").strip()
    error = ""
    if reference:
        try:
            found = Guidance.objects.filter(reference=normalise_reference(reference)).first()
        except MalformedReference as problem:
            found, error = None, str(problem)
        if found:
            return redirect("audit:timeline", found.reference.lower())
        error = error or f"There is no guidance {reference}."
    context = {"head": ledger.chain_head(), "reference": reference, "error": error}
    return render(request, "audit/index.html", context, status=404 if error else 200)


@auditors_only
@cached_until_next_change
def timeline(request, reference):
    document = audited_document(reference)
    if document.reference.lower() != reference:
        return redirect("audit:timeline", document.reference.lower())
    page = trail.timeline(document, request.GET.get("page"))
    return render(request, "audit/timeline.html", {"guidance": document, "page": page})


@auditors_only
def as_it_stood(request, reference):
    document = audited_document(reference)
    try:
        moment = trail.parse_moment(request.GET.get("at"))
    except trail.BadMoment as problem:
        return render(
            request, "audit/bad_request.html", {"guidance": document, "error": problem}, status=400
        )
    snapshot = trail.as_it_stood(document.pk, moment)
    context = {"current": document, "moment": moment, "snapshot": snapshot}
    if snapshot is not None:
        from ..public.views import replaced_references  # noqa: PLC0415 - the public page's wording

        context |= {
            "guidance": snapshot.guidance,
            "replaces": replaced_references(snapshot.guidance, RelationType.REPLACES),
            "partially_replaces": replaced_references(
                snapshot.guidance, RelationType.PARTIALLY_REPLACES
            ),
        }
    return render(request, "audit/as_it_stood.html", context, status=200 if snapshot else 404)


@auditors_only
def diff(request, reference):
    document = audited_document(reference)
    try:
        if request.GET.get("change"):
            before = trail.parse_moment(request.GET["change"], before=True)
            after = trail.parse_moment(request.GET["change"])
        else:
            before = trail.parse_moment(request.GET.get("from"))
            after = trail.parse_moment(request.GET.get("to"))
        if before.at > after.at:
            raise trail.BadMoment("The first point is later than the second: swap them.")
    except trail.BadMoment as problem:
        return render(
            request, "audit/bad_request.html", {"guidance": document, "error": problem}, status=400
        )
    changes = trail.diff(
        trail.as_it_stood(document.pk, before), trail.as_it_stood(document.pk, after)
    )
    context = {"guidance": document, "before": before, "after": after, "changes": changes}
    return render(request, "audit/diff.html", context)


@auditors_only
@cached_until_next_change
def log(request):
    form = AuditLogForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "head": ledger.chain_head()}
        return render(request, "audit/log.html", context, status=400)
    try:
        page_number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page_number = 1
    # No total count: counting a long history on every page view would cost more than the page.
    offset = (page_number - 1) * LOG_PER_PAGE
    rows = list(form.changes()[offset : offset + LOG_PER_PAGE + 1])
    label_log_rows(rows[:LOG_PER_PAGE])
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "changes": rows[:LOG_PER_PAGE],
        "page_number": page_number,
        "has_next": len(rows) > LOG_PER_PAGE,
        "query": query.urlencode(),
        "head": ledger.chain_head(),
    }
    return render(request, "audit/log.html", context)


def label_log_rows(changes):
    """Give each change its labels and link, worked out once per page rather than per cell."""
    kinds = {value: str(label) for value, label in ChangeSet._meta.get_field("kind").flatchoices}
    sources = {
        value: str(label) for value, label in ChangeSet._meta.get_field("source").flatchoices
    }
    # One reverse() for the page: references are letters and digits, so only the name varies.
    diff_url = reverse("audit:diff", args=["reference"]).replace("/reference/", "/{}/")
    for change in changes:
        change.kind_label = kinds.get(change.kind, change.kind)
        change.source_label = sources.get(change.source, change.source)
        if change.guidance is not None:
            reference = quote(change.guidance.reference.lower())
            change.diff_url = f"{diff_url.format(reference)}?change={change.id}"


class Echo:
    def write(self, value):
        return value


@auditors_only
def log_csv(request):
    form = AuditLogForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/log.html", {"form": form}, status=400)
    writer = csv.writer(Echo())
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in trail.csv_rows(form.changes())),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
