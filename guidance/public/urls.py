from django.urls import path
from django.views.generic import RedirectView

from . import feeds, sitemaps, views
from .page_cache import cached_page

app_name = "guidance"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="guidance:list"), name="home"),
    path("guidance/", views.guidance_list, name="list"),
    path("guidance/changes.atom", cached_page(feeds.ChangesFeed(), per_host=True), name="feed"),
    path("guidance/<str:reference>/", views.overview, name="overview"),
    path("guidance/<str:reference>/chapter/<str:slug>/", views.chapter, name="chapter"),
    path("guidance/<str:reference>/history/", views.history, name="history"),
    path("guidance/<str:reference>/whole/", views.whole_document, name="whole"),
    path("guidance/<str:reference>/pdf/", views.guidance_pdf, name="pdf"),
    path("print.css", views.print_stylesheet, name="print-css"),
    path("sitemap.xml", cached_page(sitemaps.sitemap_index, per_host=True), name="sitemap"),
    path(
        "sitemap-<slug:section>.xml",
        cached_page(sitemaps.sitemap_section, per_host=True),
        name="sitemap-section",
    ),
]
