"""How the API writes its answers: JSON (or FHIR JSON), whatever the Accept header says."""

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer


class FirstRenderer(BaseContentNegotiation):
    """Answer with the view's first renderer: every client gets the same bytes for a URL,
    which is what the page cache keys on.
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FhirJsonRenderer(JSONRenderer):
    media_type = "application/fhir+json"
