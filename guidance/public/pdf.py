"""Guidance as a PDF, laid out as NICE publishes it, made by WeasyPrint from our own templates."""

from django.contrib.staticfiles import finders
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher


def render_pdf(html, *, base_url, static_stylesheets=(), css=""):
    """The PDF of an HTML document styled by static stylesheets (by name) and CSS text.

    Only files are fetched (the stylesheets and their fonts): a document reaches no network.
    """
    fetcher = URLFetcher(allowed_protocols={"file"})
    stylesheets = [
        CSS(filename=finders.find(name), url_fetcher=fetcher) for name in static_stylesheets
    ]
    if css:
        stylesheets.append(CSS(string=css, url_fetcher=fetcher))
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=stylesheets)
