"""Guidance as a PDF, laid out as NICE publishes it, made by WeasyPrint from our own templates."""

from django.contrib.staticfiles import finders


def render_pdf(html, *, base_url, static_stylesheets=(), css=""):
    """The PDF of an HTML document styled by static stylesheets (by name) and CSS text.

    Only files are fetched (the stylesheets and their fonts): a document reaches no network.
    """
    # Imported here: WeasyPrint takes about a second to import, which every process serving
    # pages (and every test process) would otherwise pay at its first request.
    from weasyprint import CSS, HTML  # noqa: PLC0415
    from weasyprint.urls import URLFetcher  # noqa: PLC0415

    fetcher = URLFetcher(allowed_protocols={"file"})
    stylesheets = [
        CSS(filename=finders.find(name), url_fetcher=fetcher) for name in static_stylesheets
    ]
    if css:
        stylesheets.append(CSS(string=css, url_fetcher=fetcher))
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=stylesheets)
