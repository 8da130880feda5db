"""Who held which roles when: read from the history of accounts and groups."""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


@dataclass
class Roles:
    """An account as it stood at a moment: its name, flags, groups and permissions."""

    username: str
    display_name: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    # {group name: [app_label.codename, …]}, as each group stood then.
    groups: dict = field(default_factory=dict)
    permissions: list = field(default_factory=list)

    def has_perm(self, permission):
        """Whether the account held a permission then ('guidance.view_audit')."""
        if not self.is_active:
            return False
        return (
            self.is_superuser
            or permission in self.permissions
            or any(permission in granted for granted in self.groups.values())
        )


def _as_of(history, at):
    return history.filter(history_date__lte=at).order_by("-history_date", "-history_id").first()


def roles_at(user, at):
    """The roles an account held at a moment, or None if it did not exist then."""
    row = _as_of(get_user_model().history.filter(id=user.pk), at)
    if row is None or row.history_type == "-":
        return None
    groups = {}
    for name in row.group_names:
        group = _as_of(Group.history.filter(name=name), at)
        groups[name] = list(group.permission_codenames) if group else []
    return Roles(
        username=row.username,
        display_name=f"{row.first_name} {row.last_name}".strip(),
        is_active=row.is_active,
        is_staff=row.is_staff,
        is_superuser=row.is_superuser,
        groups=groups,
        permissions=list(row.permission_codenames),
    )
