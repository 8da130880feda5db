"""Render the pages a change altered again, in the background, so no reader waits for them.

The task requests each page through the whole application, as a reader would, so the page
cache keeps exactly what a reader's request would have kept. Pages kept per host (the feed, the
sitemap) are left to the next reader. Then pages_rendered is sent with the paths and the
change's surrogate keys, the hook a front cache connects to.
"""

import io
import logging
from wsgiref.util import setup_testing_defaults

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.dispatch import Signal
from django.tasks import task
from django.urls import reverse

from ...models import Guidance

logger = logging.getLogger(__name__)

# Sent with paths=, the pages just rendered into the page cache, host=, the Host they were
# requested with, and keys=, the surrogate keys the change purged.
pages_rendered = Signal()


@task
def render_pages(references, keys=()):
    """Request the list and every public page of the documents at these references."""
    application = WSGIHandler()
    paths = list(page_paths(references))
    for path in paths:
        response = application(_environ(path), lambda status, headers: None)
        response.close()
    pages_rendered.send(sender=render_pages, paths=paths, host=public_host(), keys=list(keys))
    return len(paths)


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


def public_host():
    """The Host readers send: the first of ALLOWED_HOSTS."""
    return next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h != "*"), "localhost")


def _environ(path):
    """A GET of path as a reader sends it: to the site's host, over HTTPS when the site is."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": public_host(),
        "wsgi.url_scheme": "https" if settings.SECURE_SSL_REDIRECT else "http",
        "wsgi.input": io.BytesIO(),
    }
    setup_testing_defaults(environ)
    return environ
