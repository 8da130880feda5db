"""The product's URLs plus the two ceilings; served only by the benchmark's server."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/precomputed/<slug:name>/", views.precomputed, name="bench-precomputed"),
    path("bench/template/<slug:name>/", views.template_only, name="bench-template"),
    path("bench/overview-from-memory/", views.overview_from_memory, name="bench-from-memory"),
    path(
        "bench/overview-from-memory/round-trips/",
        views.overview_from_memory_and_round_trips,
        name="bench-from-memory-round-trips",
    ),
    path("", include("config.urls")),
]
