from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "api"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="api:documentation"), name="index"),
    path("openapi.json", views.schema, name="schema"),
    path("docs/", views.DocumentationView.as_view(), name="documentation"),
    path("guidance/", views.guidance_list, name="guidance-list"),
    path("changes/", views.changes, name="changes"),
    path("guidance/<str:reference>/", views.guidance_detail, name="guidance"),
    path("guidance/<str:reference>/chapters/", views.guidance_chapters, name="guidance-chapters"),
    path(
        "guidance/<str:reference>/recommendations/",
        views.guidance_recommendations,
        name="guidance-recommendations",
    ),
    path(
        "guidance/<str:reference>/relations/",
        views.guidance_relations,
        name="guidance-relations",
    ),
    path(
        "guidance/<str:reference>/update-information/",
        views.guidance_update_information,
        name="guidance-update-information",
    ),
    path("guidance/<str:reference>/history/", views.guidance_history, name="guidance-history"),
    path("guidance/<str:reference>/fhir/", views.guidance_fhir, name="guidance-fhir"),
]
