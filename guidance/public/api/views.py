"""The public API's views: read-only, published guidance only, the same answer for everyone.

Each view is a cached page (see page_cache): its answer is kept and purged with the document's
pages, and PublicApiMiddleware adds the rate limit, CORS, ETag and Cache-Control.
"""

from django.db.models import prefetch_related_objects
from django.http import HttpResponsePermanentRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView
from rest_framework.decorators import api_view, renderer_classes
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.response import Response

from ...interchange.exporters import DOCUMENT_PARTS, export_json
from ...models import Guidance, date_json
from ..forms import SearchForm
from ..page_cache import cached_page
from . import events, fhir
from .pagination import CursorPage, InvalidCursor
from .renderers import FhirJsonRenderer
from .schemas import ref

NOT_FOUND = OpenApiResponse(ref("Error"), description="No public guidance has that reference.")
MOVED = OpenApiResponse(
    description="A former reference: the same request at the document's current reference."
)
REFERENCE = OpenApiParameter(
    "reference",
    str,
    OpenApiParameter.PATH,
    description="A guidance reference in any case, e.g. htg501 or IPG640.",
)


def api_url(request, name, reference):
    return request.build_absolute_uri(reverse(name, args=[reference.lower()]))


def public_document(request, reference):
    """(document, None), or (None, a redirect) when the reference was migrated; else 404."""
    try:
        current, requested = Guidance.objects.resolve(reference)
    except Guidance.DoesNotExist:
        raise NotFound(f"No public guidance has the reference {reference!r}.") from None
    if current != requested:
        name = request.resolver_match.view_name
        return None, HttpResponsePermanentRedirect(api_url(request, name, current.reference))
    # resolve() read the relations the public pages show (none to drafts); add the parts.
    prefetch_related_objects([current], *DOCUMENT_PARTS)
    return current, None


def guidance_summary(request, guidance):
    return {
        "reference": guidance.reference,
        "title": guidance.title,
        "summary": guidance.summary,
        "programme": {"code": guidance.programme.code, "name": guidance.programme.name},
        "status": guidance.status,
        "is_stub": guidance.is_stub,
        "published": date_json(guidance.published_on, guidance.published_precision),
        "last_updated": date_json(guidance.last_updated_on, guidance.last_updated_precision),
        "url": guidance.get_absolute_url(),
        "api_url": api_url(request, "api:guidance", guidance.reference),
    }


def refused_search(errors):
    return Response({"detail": "The search was refused.", "errors": errors}, status=400)


@cached_page
@extend_schema(
    operation_id="guidance_list",
    summary="List and search guidance",
    description=(
        "The public guidance, with the site's search and filters, newest first (or by "
        "relevance when searching). Follow `next` to read on: the cursor keeps its place "
        "even when guidance is published meanwhile."
    ),
    parameters=[
        OpenApiParameter("q", str, description="Keywords or a reference (at most 200 characters)."),
        OpenApiParameter("programme", str, description="A programme code, e.g. HTG."),
        OpenApiParameter("status", str, description="A public status, e.g. published."),
        OpenApiParameter("published_from", str, description="YYYY-MM-DD"),
        OpenApiParameter("published_to", str, description="YYYY-MM-DD"),
        OpenApiParameter("sort", str, enum=["", "date", "title"]),
        OpenApiParameter("cursor", str, description="From `next` or `previous`."),
        OpenApiParameter("page_size", int, description="1 to 100; 20 unless given."),
    ],
    responses={
        200: ref("GuidanceList"),
        400: OpenApiResponse(ref("RefusedSearch"), description="A filter was refused."),
    },
)
@api_view(["GET", "HEAD"])
def guidance_list(request):
    form = SearchForm(request.GET)
    if not form.is_valid():
        return refused_search(form.errors.get_json_data())
    try:
        page = CursorPage(request, form.results())
    except InvalidCursor as error:
        return refused_search({error.field: [{"message": str(error), "code": "invalid"}]})
    return Response(page.data([guidance_summary(request, g) for g in page.items]))


@cached_page(reads_query=False)
@extend_schema(
    operation_id="guidance_detail",
    summary="One guidance in the JSON contract",
    description="The document as `export_guidance --format json` writes it: keys are only ever "
    "added. A former (migrated) reference answers 301 to the current document.",
    parameters=[REFERENCE],
    responses={200: ref("Guidance"), 301: MOVED, 404: NOT_FOUND},
)
@api_view(["GET", "HEAD"])
def guidance_detail(request, reference):
    guidance, redirect = public_document(request, reference)
    return redirect or Response(export_json(guidance))


def document_part(request, reference, key):
    guidance, redirect = public_document(request, reference)
    return redirect or Response({"reference": guidance.reference, key: export_json(guidance)[key]})


def part_schema(operation_id, summary, component):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[REFERENCE],
        responses={200: ref(component), 301: MOVED, 404: NOT_FOUND},
    )


@cached_page(reads_query=False)
@part_schema("guidance_chapters", "A guidance's chapters, with their paragraphs", "Chapters")
@api_view(["GET", "HEAD"])
def guidance_chapters(request, reference):
    return document_part(request, reference, "chapters")


@cached_page(reads_query=False)
@part_schema("guidance_recommendations", "A guidance's recommendations", "Recommendations")
@api_view(["GET", "HEAD"])
def guidance_recommendations(request, reference):
    return document_part(request, reference, "recommendations")


@cached_page(reads_query=False)
@part_schema("guidance_relations", "What a guidance replaces, is replaced by…", "Relations")
@api_view(["GET", "HEAD"])
def guidance_relations(request, reference):
    return document_part(request, reference, "relations")


@cached_page(reads_query=False)
@part_schema("guidance_update_information", "A guidance's update information", "UpdateInformation")
@api_view(["GET", "HEAD"])
def guidance_update_information(request, reference):
    return document_part(request, reference, "update_information")


@cached_page(reads_query=False)
@extend_schema(
    operation_id="guidance_history",
    summary="A guidance's public history",
    description="Publication, update information, migrations, replacements and withdrawal, "
    "oldest first, each naming the reference in force at the time. Never who or why.",
    parameters=[REFERENCE],
    responses={200: ref("History"), 301: MOVED, 404: NOT_FOUND},
)
@api_view(["GET", "HEAD"])
def guidance_history(request, reference):
    guidance, redirect = public_document(request, reference)
    return redirect or Response(
        {"reference": guidance.reference, "events": events.public_events(guidance)}
    )


@cached_page(reads_query=False)
@extend_schema(
    operation_id="guidance_fhir",
    summary="A guidance as a FHIR R5 document Bundle",
    description="HL7 CPG-on-FHIR shapes: a Composition with a section per chapter, the "
    "guideline and each recommendation as a PlanDefinition, NICE as the Organization.",
    parameters=[REFERENCE],
    responses={
        (200, "application/fhir+json"): ref("FhirBundle"),
        (301, "application/fhir+json"): MOVED,
        (404, "application/fhir+json"): NOT_FOUND,
    },
)
@api_view(["GET", "HEAD"])
@renderer_classes([FhirJsonRenderer])
def guidance_fhir(request, reference):
    guidance, redirect = public_document(request, reference)
    return redirect or Response(fhir.document_bundle(request, guidance))


@cached_page
@extend_schema(
    operation_id="changes",
    summary="What changed since a cursor, for syndication",
    description="Changes to public guidance in the order they were made, whole changes per "
    "page. Keep `cursor` and ask again with `?since=` it; `more` says whether to ask at once.",
    parameters=[
        OpenApiParameter(
            "since",
            str,
            description="A cursor from an earlier answer; none to start from the beginning.",
        ),
    ],
    responses={200: ref("Changes"), 400: OpenApiResponse(ref("Error"), description="Bad cursor.")},
)
@api_view(["GET", "HEAD"])
def changes(request):
    try:
        since = int(request.GET.get("since") or 0)
    except ValueError:
        raise ParseError("'since' is a cursor from an earlier answer: a whole number.") from None
    if since < 0:
        raise ParseError("'since' is a cursor from an earlier answer: a whole number.")
    return Response(events.changes_since(request, since))


schema = cached_page(SpectacularJSONAPIView.as_view())


class DocumentationView(SpectacularSwaggerSplitView):
    """Swagger UI with its styles in a file of ours: the CSP refuses inline styles."""

    template_name = "api/documentation.html"
    url_name = "api:schema"
