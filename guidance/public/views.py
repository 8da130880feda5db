"""The public pages: guidance list and search, overview, chapters and history of a document."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from ..models import (
    Block,
    ChangeKind,
    Guidance,
    GuidanceStatus,
    RelationType,
)
from .forms import SearchForm
from .page_cache import cached_page, responsibility_statement
from .pdf import render_pdf

RESULTS_PER_PAGE = 20
UPDATE_INFORMATION_SLUG = "update-information"


def public_record(reference):
    """(current, requested) records at a reference, or Http404: see DocumentManager.resolve."""
    try:
        return Guidance.objects.resolve(reference)
    except Guidance.DoesNotExist:
        raise Http404 from None


def replaced_references(record, relation_type):
    """The references a document replaces, for 'This guidance replaces IPG420 and IPG640'.

    The references it was migrated from are among them, linked to its lineage.
    """
    references = [
        {"reference": r.target.reference, "url": r.target.get_absolute_url()}
        for r in record.replaces
        if r.type == relation_type
    ]
    if relation_type == RelationType.REPLACES:
        references += [
            {"reference": r.source.reference, "url": f"{record.get_history_url()}#lineage"}
            for r in record.former_references
        ]
    return references


def canonical_redirect(request, record, requested, url):
    """A permanent redirect when the URL is not the record's canonical one, else None."""
    if record != requested or request.path != url:
        return redirect(url, permanent=True)
    return None


# The models order these across documents (joining the document and its programme); within
# one document the order is the same without the joins, which cost more than the rest of the
# query to build.
def endorsements_of(record):
    if getattr(record, "has_endorsements", True) is False:
        return []  # resolve() found none
    return record.endorsements.select_related("organisation").order_by("organisation__name")


def update_entries(record):
    """Update information as published: major entries, then minor ones."""
    entries = list(record.update_entries.order_by("position"))
    return {
        "major_entries": [e for e in entries if e.kind == ChangeKind.MAJOR],
        "minor_entries": [e for e in entries if e.kind == ChangeKind.MINOR],
        "has_update_information": bool(entries),
    }


def update_information_shown(record):
    """Whether the navigation has an 'Update information' chapter; resolve() found out
    already, the admin's preview asks.
    """
    known = getattr(record, "has_update_information", None)
    return {"has_update_information": record.update_entries.exists() if known is None else known}


def find_chapter(chapters, slug):
    """The chapter a slug names: its own slug, or NICE's form without the number, any case."""
    slug = slug.lower()
    exact = next((c for c in chapters if c.slug == slug), None)
    return exact or next((c for c in chapters if slugify(c.title) == slug), None)


@require_safe
@cached_page
def guidance_list(request):
    form = SearchForm(request.GET)
    page = Paginator(form.results(), RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "guidance/list.html",
        {"form": form, "page": page, "query": query.urlencode(), "filtered": bool(query)},
        status=400 if form.errors else 200,
    )


def overview_context(record):
    """What the overview page shows of a record (the admin's preview uses it too)."""
    chapters = list(record.chapters.order_by("position"))
    recommendations = next((c for c in chapters if c.is_recommendations), None)
    return {
        "guidance": record,
        "chapters": chapters,
        "recommendations": recommendations,
        "blocks": list(recommendations.blocks.order_by("position")) if recommendations else [],
        "responsibility": responsibility_statement(record),
        "endorsements": endorsements_of(record),
        "replaces": replaced_references(record, RelationType.REPLACES),
        "partially_replaces": replaced_references(record, RelationType.PARTIALLY_REPLACES),
        **update_information_shown(record),
    }


def chapter_context(record, slug):
    """What a chapter page shows of a record; Http404 for a slug it does not have."""
    chapters = list(record.chapters.order_by("position"))
    current = find_chapter(chapters, slug)
    if current is None:
        raise Http404
    index = chapters.index(current)
    return {
        "guidance": record,
        "chapters": chapters,
        "chapter": current,
        "blocks": list(current.blocks.order_by("position")),
        "previous": chapters[index - 1] if index > 0 else None,
        "next": chapters[index + 1] if index + 1 < len(chapters) else None,
        "is_last": index + 1 == len(chapters),
        "endorsements": endorsements_of(record),
        **update_information_shown(record),
    }


def whole_document_context(record):
    """Every chapter and block of a record, for one page to read or print."""
    chapters = list(record.chapters.order_by("position"))
    by_chapter = {chapter.pk: [] for chapter in chapters}
    for block in Block.objects.filter(guidance=record).order_by("chapter__position", "position"):
        by_chapter[block.chapter_id].append(block)
    context = {
        "guidance": record,
        "sections": [(chapter, by_chapter[chapter.pk]) for chapter in chapters],
        "responsibility": responsibility_statement(record),
        "endorsements": endorsements_of(record),
        "replaces": replaced_references(record, RelationType.REPLACES),
        "partially_replaces": replaced_references(record, RelationType.PARTIALLY_REPLACES),
        **update_entries(record),
    }
    return context


@require_safe
@cached_page(reads_query=False)
def overview(request, reference):
    record, requested = public_record(reference)
    if response := canonical_redirect(request, record, requested, record.get_absolute_url()):
        return response
    return render(request, "guidance/overview.html", overview_context(record))


@require_safe
@cached_page(reads_query=False)
def chapter(request, reference, slug):
    record, requested = public_record(reference)
    if record.status_enum.is_withdrawn or record.is_stub:
        return redirect(record)
    if slug.lower() == UPDATE_INFORMATION_SLUG:
        return update_information(request, record, requested)
    context = chapter_context(record, slug)
    url = context["chapter"].get_absolute_url()
    if response := canonical_redirect(request, record, requested, url):
        return response
    return render(request, "guidance/chapter.html", context)


def update_information(request, record, requested):
    """The update information as the last chapter, at NICE's /chapter/Update-information."""
    context = {
        "guidance": record,
        "chapters": list(record.chapters.order_by("position")),
        **update_entries(record),
    }
    if not context["has_update_information"]:
        raise Http404
    url = reverse("guidance:chapter", args=[record.reference.lower(), UPDATE_INFORMATION_SLUG])
    if response := canonical_redirect(request, record, requested, url):
        return response
    return render(request, "guidance/update_information.html", context)


@require_safe
@cached_page(reads_query=False)
def whole_document(request, reference):
    record, requested = public_record(reference)
    if record.status_enum.is_withdrawn or record.is_stub:
        return redirect(record)
    url = record.get_whole_url()
    if response := canonical_redirect(request, record, requested, url):
        return response
    return render(request, "guidance/whole.html", whole_document_context(record))


@require_safe
@cached_page(reads_query=False)
def history(request, reference):
    record, requested = public_record(reference)
    url = record.get_history_url()
    if response := canonical_redirect(request, record, requested, url):
        return response
    return render(request, "guidance/history.html", history_context(record))


def history_context(record):
    """What the history page shows of a record (the admin's preview uses it too)."""
    return {
        "guidance": record,
        "chapters": []
        if record.status_enum.is_withdrawn
        else list(record.chapters.order_by("position")),
        "withdrawn": record.status != GuidanceStatus.PUBLISHED,
        **update_entries(record),
    }


def site_origin(request):
    return f"{request.scheme}://{request.get_host()}"


@require_safe
@cached_page(per_host=True, reads_query=False)
def print_stylesheet(request):
    """The print stylesheet that needs the site's address: links print with their full address."""
    css = render_to_string("print_links.css", {"origin": site_origin(request)})
    return HttpResponse(css, content_type="text/css; charset=utf-8")


@require_safe
@cached_page(per_host=True, reads_query=False)
def guidance_pdf(request, reference):
    """The whole document as a PDF; the page cache keeps it until the document changes."""
    record, requested = public_record(reference)
    if record.status_enum.is_withdrawn or record.is_stub:
        return redirect(record)
    url = reverse("guidance:pdf", args=[record.reference.lower()])
    if response := canonical_redirect(request, record, requested, url):
        return response
    context = whole_document_context(record) | {
        "address": request.build_absolute_uri(record.get_absolute_url())
    }
    pdf = render_pdf(
        render_to_string("guidance/pdf.html", context, request=request),
        base_url=request.build_absolute_uri("/"),
        static_stylesheets=["css/pdf.css"],
        css=render_to_string("print_links.css", {"origin": site_origin(request)}),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{record.reference.lower()}.pdf"'
    return response
