"""Who and why for every history row.

Every write to a tracked model happens inside ``recording(user=..., reason=...)``. The
block runs in one transaction; each history row written in it points at the ChangeSet
that is stored when the block ends. A write outside ``recording`` is refused, so no
history row can lack a user and a reason.
"""

import contextlib
import contextvars
import datetime
import functools
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import Signal, receiver
from django.utils import timezone
from simple_history import utils as simple_history_utils
from simple_history.manager import HistoryDescriptor
from simple_history.signals import pre_create_historical_record

from . import ledger
from .models import ACCOUNT_MODELS, ChangeSet, EffectivePrecision, Guidance, bulk_write_permitted

SYSTEM_USERNAME = "system"
# The columns by which a tracked row belongs to a document.
GUIDANCE_COLUMNS = ("guidance_id", "source_id", "target_id")

_current = contextvars.ContextVar("guidance_change_set", default=None)

# Sent after a change commits, with change_set=; receivers may purge caches, nothing more.
change_committed = Signal()


class HistoryWithoutReason(RuntimeError):
    """A tracked model was written outside recording(): its history would lack who and why."""


class PendingChange:
    """The ChangeSet of the block being run, stored when the block commits."""

    def __init__(self, *, user, reason, kind, source, guidance, effective_at, effective_precision):
        self.id = uuid.uuid4()
        self.user = user
        self.reason = reason
        self.kind = kind
        self.source = source
        self.guidance = guidance
        # When it took effect, if not when it is recorded (set it before the block ends).
        self.effective_at = effective_at
        self.effective_precision = effective_precision
        # The history models this change wrote rows of: sealing reads only their tables.
        self.history_models = set()
        # The documents whose record or parts it wrote (relations: both ends), for the purge.
        self.guidance_ids = set()

    @functools.cached_property
    def started_at(self):
        """When the change began: read at its first write, once the chain is held.

        Holding the chain from the first write until the commit seals changes in the order
        of their times, so that times never go backwards along the sequence.
        """
        ledger.lock_chain()
        head = ledger.chain_head(ChangeSet)
        now = timezone.now()
        # A clock behind the last change's (another server's) must not reorder the chain.
        return max(now, head.created_at) if head else now

    def note_written(self, history_model, objs):
        self.history_models.add(history_model)
        for obj in objs:
            if obj._meta.concrete_model is Guidance:
                self.guidance_ids.add(obj.pk)
            for column in GUIDANCE_COLUMNS:
                self.guidance_ids.add(getattr(obj, column, None))
        self.guidance_ids.discard(None)

    def save(self):
        if not self.history_models:
            return None  # nothing was written: no change to record
        effective_at = self.effective_at or self.started_at
        if isinstance(effective_at, datetime.date) and not isinstance(
            effective_at, datetime.datetime
        ):
            effective_at = timezone.make_aware(
                datetime.datetime.combine(effective_at, datetime.time.min)
            )
        change_set = ChangeSet(
            id=self.id,
            created_at=self.started_at,
            # In UTC, as the database gives it back: the digest covers it.
            effective_at=effective_at.astimezone(datetime.UTC),
            effective_precision=(
                self.effective_precision if self.effective_at else EffectivePrecision.EXACT
            ),
            user=self.user,
            reason=self.reason,
            kind=self.kind,
            source=self.source,
            guidance=self.guidance,
        )
        ledger.seal(change_set, models=self.history_models)
        change_set.save(force_insert=True)
        change_set.guidance_ids = frozenset(self.guidance_ids)
        transaction.on_commit(
            lambda: change_committed.send(sender=ChangeSet, change_set=change_set)
        )
        return change_set


def system_user():
    """The named account that management commands act as when no user is given."""
    user, _ = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"first_name": "System", "is_active": False},
    )
    return user


@contextlib.contextmanager
def recording(
    *,
    user=None,
    reason,
    kind="",
    source=ChangeSet.Source.SYSTEM,
    guidance=None,
    effective_at=None,
    effective_precision=EffectivePrecision.EXACT,
):
    """Run a block of writes as one audited change, in one transaction.

    effective_at: when the change took effect (a date or a datetime, known to
    effective_precision), if not when it is recorded.
    """
    if not reason or not reason.strip():
        raise HistoryWithoutReason("A change needs a reason.")
    if _current.get() is not None:
        # A workflow called from inside another change is part of that change.
        yield _current.get()
        return
    with transaction.atomic():
        pending = PendingChange(
            user=user or system_user(),
            reason=reason.strip(),
            kind=kind,
            source=source,
            guidance=guidance,
            effective_at=effective_at,
            effective_precision=effective_precision,
        )
        token = _current.set(pending)
        try:
            yield pending
            # Reset before sealing: sealing writes nothing tracked.
            _current.reset(token)
            token = None
            pending.save()
        finally:
            if token is not None:
                _current.reset(token)


@contextlib.contextmanager
def recorded(instance):
    """Part of the change being recorded, or a change of its own by the system account.

    For accounts and groups only, which commands and Django itself also write.
    """
    if _current.get() is not None:
        yield
        return
    label = type(instance)._meta.verbose_name
    with recording(reason=f"The {label} {instance} was changed outside the registry's forms"):
        yield


def set_change_guidance(guidance):
    """Name the document a change was about once it is known (an import learns it late)."""
    pending = _current.get()
    if pending is not None and pending.guidance is None:
        pending.guidance = guidance


def _is_tracked(model):
    return hasattr(model._meta.concrete_model._meta, "simple_history_manager_attribute")


@receiver(pre_save)
@receiver(pre_delete)
def refuse_untracked_write(sender, instance, raw=False, **kwargs):
    # Refuse before the row is written, so that nothing is half-done outside a transaction.
    if (
        not raw
        and _is_tracked(sender)
        and sender._meta.concrete_model not in ACCOUNT_MODELS
        and _current.get() is None
    ):
        raise HistoryWithoutReason(
            f"{sender.__name__} {instance.pk} was written outside recording(): "
            "wrap the write in guidance.history.recording(user=..., reason=...)."
        )


@receiver(pre_create_historical_record)
def stamp_history_row(sender, instance, history_instance, **kwargs):
    pending = _current.get()
    if pending is None:
        raise HistoryWithoutReason(
            f"{type(instance).__name__} {instance.pk} was written outside recording(): "
            "wrap the write in guidance.history.recording(user=..., reason=...)."
        )
    history_instance.change_set_id = pending.id
    pending.note_written(type(history_instance), [instance])
    history_instance.history_user = pending.user
    history_instance.history_change_reason = pending.reason
    history_instance.history_date = pending.started_at
    if isinstance(instance, ACCOUNT_MODELS):
        _stamp_roles(instance, history_instance)


def _stamp_roles(instance, history_instance):
    """Keep an account's groups and permissions, or a group's permissions, as they are now."""
    if instance.pk is None:
        return
    groups = getattr(instance, "groups", None)
    permissions = instance.permissions if groups is None else instance.user_permissions
    if groups is not None:
        history_instance.group_names = sorted(groups.values_list("name", flat=True))
    history_instance.permission_codenames = sorted(
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    )


def _bulk_history_arguments():
    pending = _current.get()
    if pending is None:
        raise HistoryWithoutReason("A bulk write needs recording(user=..., reason=...).")
    return {
        "default_user": pending.user,
        "default_change_reason": pending.reason,
        "default_date": pending.started_at,
        "custom_historical_attrs": {"change_set_id": pending.id},
    }


@contextlib.contextmanager
def _bulk_write():
    token = bulk_write_permitted.set(True)
    try:
        yield
    finally:
        bulk_write_permitted.reset(token)


def bulk_create_with_history(objs, model, batch_size=500):
    """Insert many rows and their history rows, as part of the current change."""
    arguments = _bulk_history_arguments()
    objs = list(objs)
    with _bulk_write():
        created = simple_history_utils.bulk_create_with_history(
            objs, model, batch_size=batch_size, **arguments
        )
    _current.get().note_written(model.history.model, created)
    return created


def bulk_update_with_history(objs, model, fields, batch_size=500, manager=None):
    """Update many rows and write their history rows, as part of the current change.

    manager, if given, is one of the model's managers whose bulk_update writes the rows.
    """
    arguments = _bulk_history_arguments()
    objs = list(objs)
    with _bulk_write():
        updated = simple_history_utils.bulk_update_with_history(
            objs, model, fields, batch_size=batch_size, manager=manager, **arguments
        )
    _current.get().note_written(model.history.model, objs)
    return updated


class CachedHistoryDescriptor(HistoryDescriptor):
    """django-simple-history builds a new manager class on every ``Model.history`` access,
    once per saved row; build it once per model instead."""

    def __get__(self, instance, owner):
        if "manager" not in self.__dict__:
            self.manager = self.manager_class.from_queryset(self.queryset_class)
        return self.manager(self.model, instance)


def cache_history_managers(models):
    for model in models:
        descriptor = model.__dict__.get("history")
        if type(descriptor) is HistoryDescriptor:
            model.history = CachedHistoryDescriptor(
                descriptor.model, descriptor.manager_class, descriptor.queryset_class
            )
