"""The admin site editors, publishers and auditors use.

Kept apart from admin.py because INSTALLED_APPS imports it before any model is loaded.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .. import signin


class RegistryAdminSite(admin.AdminSite):
    site_header = _("Guidance registry")
    site_title = _("Guidance registry")
    index_title = _("Records")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Deleting in bulk would skip the reason every change needs, and the guard that
        # keeps published guidance: deletion goes through the delete page, one record at a time.
        self.disable_action("delete_selected")

    def has_role(self, request):
        """Active staff with at least one permission: a staff flag alone opens nothing."""
        user = request.user
        return (
            user.is_active
            and user.is_staff
            and (user.is_superuser or bool(user.get_all_permissions()))
        )

    def has_permission(self, request):
        return self.has_role(request) and request.user.is_verified()

    def login(self, request, extra_context=None):
        """Take the password, then send the user to the second factor and on to ?next=."""
        if request.method == "GET" and self.has_role(request) and not request.user.is_verified():
            return signin.to_second_factor(request, request.GET.get("next", ""))
        response = super().login(request, extra_context)
        if request.method == "POST" and response.status_code == 302:
            # The second step passes a user already verified in this session straight on.
            return signin.to_second_factor(request, request.POST.get("next", ""))
        return response

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def refuse_signed_in_without_role(request, *args, **kwargs):
            logging_out = request.path == reverse("admin:logout", current_app=self.name)
            if request.user.is_authenticated and not logging_out:
                # Someone signed in without a role is refused, not sent back to a sign-in page
                # that cannot help them.
                if not self.has_role(request):
                    raise PermissionDenied
                if not request.user.is_verified():
                    return signin.to_second_factor(request)
            return inner(request, *args, **kwargs)

        refuse_signed_in_without_role.admin_site = self
        return refuse_signed_in_without_role

    def index(self, request, extra_context=None):
        return super().index(request, {**waiting_for(request.user), **(extra_context or {})})


def waiting_for(user):
    """What waits for this user: drafts to review, scheduled publications, drafts sent back."""
    from ..models import Guidance, ReviewState  # noqa: PLC0415 - loaded before the models

    drafts = Guidance.with_editions.select_related("programme", "submitted_by").order_by(
        "publish_at", "reference"
    )
    waiting = {
        "scheduled": list(drafts.filter(review_state=ReviewState.SCHEDULED)),
        "sent_back": list(drafts.filter(review_state=ReviewState.SENT_BACK, submitted_by=user)),
    }
    if user.has_perm("guidance.publish_guidance"):
        waiting["awaiting_review"] = list(drafts.filter(review_state=ReviewState.SUBMITTED))
    return waiting


class RegistryAdminConfig(AdminConfig):
    default_site = "guidance.editorial.sites.RegistryAdminSite"
