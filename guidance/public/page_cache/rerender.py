"""Render the pages a change altered again, in the background, so no reader waits for them.

The task requests each page through the whole application, as a reader would, so the page
cache keeps exactly what a reader's request would have kept. Pages kept per host (the feed, the
sitemap) are left to the next reader.
"""

import io
import logging
from wsgiref.util import setup_testing_defaults

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.tasks import task
from django.urls import reverse

from ...models import Guidance

logger = logging.getLogger(__name__)


@task
def render_pages(references):
    """Request the list and every public page of the documents at these references."""
    application = WSGIHandler()
    rendered = 0
    for path in page_paths(references):
        response = application(_environ(path), lambda status, headers: None)
        response.close()
        rendered += 1
    return rendered


def page_paths(references):
    yield reverse("guidance:list")
    documents = Guidance.objects.published().filter(reference__in=references)
    for document in documents.prefetch_related("chapters").order_by("reference"):
        yield document.get_absolute_url()
        yield document.get_history_url()
        yield document.get_whole_url()
        for chapter in document.chapters.all():
            chapter.guidance = document
            yield chapter.get_absolute_url()


def _environ(path):
    """A GET of path as a reader sends it: to an allowed host, over HTTPS when the site is."""
    host = next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h != "*"), "localhost")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": host,
        "wsgi.url_scheme": "https" if settings.SECURE_SSL_REDIRECT else "http",
        "wsgi.input": io.BytesIO(),
    }
    setup_testing_defaults(environ)
    return environ
