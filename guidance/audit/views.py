"""The history area: read-only pages for auditors and publishers (permission view_audit)."""

import csv
import functools
import hashlib
from urllib.parse import quote, urlencode

from axes.models import AccessFailureLog
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from .. import ledger, signin, verification
from ..models import (
    MAX_MIGRATION_HOPS,
    ChangeSet,
    Guidance,
    MalformedReference,
    RelationType,
    normalise_reference,
)
from ..public import page_cache
from . import evidence, trail
from .forms import AuditLogForm

LOG_PER_PAGE = 50
# Far beyond any real history, and small enough that the offset is a number the database takes.
LOG_LAST_PAGE = 1_000_000
SIGN_INS_PER_PAGE = 100


def auditors_only(view):
    """Anonymous: the sign-in page; signed in without view_audit: 403; GET only; never stored.

    A user who has given their password but not yet their second factor goes to that step.
    """
    view_on_get = require_GET(view)

    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        # Checked on every request, before any cached page is served.
        if not request.user.has_perm("guidance.view_audit"):
            raise PermissionDenied
        if not request.user.is_verified():
            return signin.to_second_factor(request)
        response = view_on_get(request, *args, **kwargs)
        # Who changed what is for this reader only: no shared or browser cache keeps it.
        patch_cache_control(response, private=True, no_store=True)
        return response

    return wrapped


def cached_until_next_change(view=None, *, reads=None):
    """Serve a rendered history page again until the next change commits.

    History is append-only, so a page is wholly determined by its address and the changes
    recorded so far. Every committed change moves the history token of the page cache (see
    guidance.public.page_cache.purge), so the next request renders afresh, and a hit asks the
    database nothing beyond who the reader is. Every reader with view_audit sees the same
    pages, and the permission check runs first.

    reads names the query parameters a view reads, when it reads only those: the page is kept
    under them alone, so that other parameters cannot make it render again.
    """
    if view is None:
        return functools.partial(cached_until_next_change, reads=reads)

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not getattr(settings, "GUIDANCE_PAGE_CACHE", True):
            return view(request, *args, **kwargs)
        address = request.get_full_path()
        if reads is not None:
            read = [(name, value) for name in reads for value in request.GET.getlist(name)]
            address = f"{request.path}?{urlencode(read)}"
        # The token is read before the page is rendered: a change committed meanwhile moves it,
        # so a page is never kept under a token older than what it shows.
        path = hashlib.sha256(address.encode()).hexdigest()
        # A new verdict (shown on every page) makes the page anew too.
        verdict = request.history_verdict = verification.latest_verdict()
        key = f"audit:v3:{verdict.pk if verdict else 0}:{path}"
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
    record = Guidance.objects.filter(reference=reference).first()
    if record is None:
        # A deleted draft's history stays readable.
        record = trail.deleted_document(reference)
        if record is None:
            raise Http404
        return record
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
        if found is None and not error:
            found = trail.deleted_document(normalise_reference(reference))
        if found:
            return redirect("audit:timeline", found.reference.lower())
        error = error or f"There is no guidance {reference}."
    context = {
        "head": ledger.chain_head(),
        "reference": reference,
        "error": error,
        "verdict": verification.latest_verdict(),
        "deleted": trail.deleted_documents(),
    }
    request.history_verdict = context["verdict"]
    return render(request, "audit/index.html", context, status=404 if error else 200)


@auditors_only
@cached_until_next_change(reads=["page"])
def timeline(request, reference):
    document = audited_document(reference)
    if document.reference.lower() != reference:
        return redirect("audit:timeline", document.reference.lower())
    page = trail.timeline(document, request.GET.get("page"))
    # What the document says happened before it was recorded, after its oldest change.
    stated = [] if page.has_next() else trail.stated_events(document)
    context = {"guidance": document, "page": page, "stated_events": stated}
    return render(request, "audit/timeline.html", context)


@auditors_only
def as_it_stood(request, reference):
    document = audited_document(reference)
    try:
        moment = trail.parse_moment(request.GET.get("at"))
    except trail.BadMoment as problem:
        return render(
            request, "audit/bad_request.html", {"guidance": document, "error": problem}, status=400
        )
    snapshot = trail.as_it_stood(document.pk, moment) or trail.as_stated(document.pk, moment)
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
    # A date before the record began compares the page as the document states it then.
    old = trail.as_it_stood(document.pk, before) or (
        None if before.change else trail.as_stated(document.pk, before)
    )
    new = trail.as_it_stood(document.pk, after) or (
        None if after.change else trail.as_stated(document.pk, after)
    )
    context = {
        "guidance": document,
        "before": before,
        "after": after,
        "changes": trail.diff(old, new),
        "reconstructed": any(s is not None and s.recorded_from for s in (old, new)),
    }
    return render(request, "audit/diff.html", context)


@auditors_only
@cached_until_next_change
def log(request):
    form = AuditLogForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "head": ledger.chain_head()}
        return render(request, "audit/log.html", context, status=400)
    page = request.GET.get("page", "1")
    page_number = int(page) if page.isascii() and page.isdigit() else 0
    if not 1 <= page_number <= LOG_LAST_PAGE:
        context = {"error": f"There is no page {page} of the audit log: pages count from 1."}
        return render(request, "audit/bad_request.html", context, status=404)
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


@auditors_only
def sign_ins(request):
    """Failed sign-ins, newest first: who was tried, from where, and whether it locked."""
    paginator = Paginator(
        AccessFailureLog.objects.order_by("-attempt_time", "-id"), SIGN_INS_PER_PAGE
    )
    try:
        page = paginator.page(request.GET.get("page", 1))
    except InvalidPage as problem:
        return render(request, "audit/bad_request.html", {"error": problem}, status=404)
    context = {
        "page": page,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "audit/sign_ins.html", context)


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


@auditors_only
def evidence_pack(request, reference):
    """The document's evidence pack for a period (?from=&to=), as a zip download."""
    document = audited_document(reference)
    try:
        start, end = evidence.period(request.GET.get("from"), request.GET.get("to"))
    except trail.BadMoment as problem:
        return render(
            request, "audit/bad_request.html", {"guidance": document, "error": problem}, status=400
        )
    response = HttpResponse(
        evidence.build_pack(document, start, end), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{document.reference}-evidence.zip"'
    # Who did what, and why: never kept by a browser or a shared cache.
    patch_cache_control(response, private=True, no_store=True)
    return response
