"""The guidance record: programmes, documents, their parts, relations and history.

Every model an editor can change keeps full history. Each history row belongs to a
ChangeSet (one admin save, one workflow run, one import) that says who and why.
"""

import contextvars
import functools
import re
import uuid

from django.conf import settings
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVector,
    SearchVectorField,
)
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import ProtectedError, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

REFERENCE_PATTERN = re.compile(r"^\s*([A-Za-z]{1,8})\s*-?\s*0*(\d{1,6})\s*$")


class MalformedReference(ValueError):
    pass


class RefusedChange(ValueError):
    """A workflow step the record's state does not allow; the message is for the editor."""


class PublishedGuidanceIsKept(ProtectedError):
    """Guidance that was ever public is never deleted: it is withdrawn or replaced."""


def split_reference(value):
    """Return (PREFIX, number) for a reference such as 'ipg0640' or 'HTG 501'."""
    match = REFERENCE_PATTERN.match(value or "")
    if not match:
        raise MalformedReference(
            f"{value!r} is not a guidance reference (expected letters then a number, e.g. HTG501)"
        )
    return match.group(1).upper(), int(match.group(2))


def normalise_reference(value):
    """Return the stored form of a reference: upper-case prefix, number without leading zeros."""
    prefix, number = split_reference(value)
    return f"{prefix}{number}"


class DatePrecision(models.TextChoices):
    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")

    def format(self, value):
        """Show a date no more precisely than it is known: '30 January 2019', 'January 2026'."""
        if value is None:
            return ""
        if self == DatePrecision.DAY:
            return f"{value.day} {value:%B %Y}"
        if self == DatePrecision.MONTH:
            return f"{value:%B %Y}"
        return f"{value:%Y}"


def format_date(value, precision):
    if value is None or not precision:
        return ""
    return DatePrecision(precision).format(value)


def date_json(value, precision):
    if value is None:
        return None
    return {"date": value.isoformat(), "precision": precision}


class EffectivePrecision(models.TextChoices):
    """How precisely a change's effective date is known."""

    EXACT = "exact", _("to the second")
    DAY = "day", _("day")
    MONTH = "month", _("month")
    YEAR = "year", _("year")

    def format(self, value):
        """'3 December 2026 at 09:20:00 UTC', '30 January 2019', 'January 2026'."""
        if value is None:
            return ""
        if self == EffectivePrecision.EXACT:
            local = timezone.localtime(value)
            return f"{local.day} {local:%B %Y at %H:%M:%S %Z}"
        return DatePrecision(self.value).format(timezone.localtime(value).date())


class ChangeKind(models.TextChoices):
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")


class ChangeSet(models.Model):
    """One change as a person or process made it: an admin save, a workflow run, an import.

    Written once, when the change commits; the history rows of that change point at it.
    """

    class Source(models.TextChoices):
        ADMIN = "admin", _("Admin")
        WORKFLOW = "workflow", _("Workflow")
        IMPORT = "import", _("Import")
        SYSTEM = "system", _("System")
        DRAFT = "draft", _("Draft edition")
        PUBLICATION = "published", _("Publication")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_sets"
    )
    reason = models.TextField(_("reason"))
    kind = models.CharField(_("major or minor"), max_length=5, choices=ChangeKind, blank=True)
    source = models.CharField(max_length=10, choices=Source, default=Source.SYSTEM)
    guidance = models.ForeignKey(
        "Guidance",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_sets",
        help_text=_("The document this change was about, when it was about one."),
    )
    # Tamper evidence: a hash over this change's history rows, chained to the previous change.
    sequence = models.PositiveBigIntegerField(unique=True)
    previous_digest = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64, blank=True)
    row_hashes = models.JSONField(default=dict, blank=True)
    # How it was sealed (guidance.proof): 1 before signing existed, 2 signed.
    format = models.PositiveSmallIntegerField(default=2)
    # The columns of each history table as they were sealed, so that a column added later
    # leaves the old rows' hashes as they were.
    row_fields = models.JSONField(default=dict, blank=True)
    # Who, as they were named when the change was made (inside what is hashed).
    username = models.CharField(max_length=150, blank=True)
    user_display_name = models.CharField(max_length=300, blank=True)
    # Which key signed the digest (the start of its public key's SHA-256), and the signature.
    key_id = models.CharField(max_length=16, blank=True)
    signature = models.CharField(max_length=100, blank=True)
    # When the change took effect, as opposed to when it was recorded (created_at): an import
    # records events the document states, such as its publication years earlier. Empty on
    # changes sealed before effective dates were recorded (format 2 and older): those took
    # effect when they were recorded.
    effective_at = models.DateTimeField(_("took effect"), null=True, blank=True, db_index=True)
    effective_precision = models.CharField(
        max_length=5, choices=EffectivePrecision, default=EffectivePrecision.EXACT
    )

    class Meta:
        # The sequence is the order of changes; the chain checks that times agree with it.
        ordering = ["-sequence"]
        get_latest_by = "sequence"
        # The audit log filters by one of these and shows the newest first.
        indexes = [
            models.Index(fields=["user", "-created_at"], name="changeset_user_recent"),
            models.Index(fields=["guidance", "-created_at"], name="changeset_guidance_recent"),
            models.Index(fields=["kind", "-created_at"], name="changeset_kind_recent"),
            models.Index(fields=["source", "-created_at"], name="changeset_source_recent"),
            models.Index(fields=["user", "-effective_at"], name="changeset_user_effective"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user}: {self.reason}"

    @property
    def took_effect_at(self):
        return self.effective_at or self.created_at

    @property
    def effective_display(self):
        """When it took effect, no more precisely than known."""
        if self.effective_at is None:
            return EffectivePrecision.EXACT.format(self.created_at)
        return EffectivePrecision(self.effective_precision).format(self.effective_at)

    @property
    def took_effect_when_recorded(self):
        return self.effective_at is None or (
            self.effective_precision == EffectivePrecision.EXACT
            and self.effective_at == self.created_at
        )


class ChangeSetHistory(models.Model):
    """Fields every history row carries besides simple-history's own."""

    change_set = models.ForeignKey(
        ChangeSet, on_delete=models.PROTECT, related_name="+", db_index=True
    )

    class Meta:
        abstract = True


def tracked_history():
    return HistoricalRecords(bases=[ChangeSetHistory], cascade_delete_history=False)


class RolesHistory(models.Model):
    """What a history row of an account or a group also keeps: its roles at the time."""

    group_names = models.JSONField(
        default=list, blank=True, help_text=_("The groups the account was in.")
    )
    permission_codenames = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Permissions given directly (app_label.codename), as they were."),
    )

    class Meta:
        abstract = True


class AccountHistory(HistoricalRecords):
    """History of accounts and groups, including group membership and permissions.

    Accounts are also made by commands (createsuperuser) and sign-ins touch them, so a
    write outside recording() is not refused here: it is recorded as a change of its own,
    by the system account. A sign-in (only last_login saved) is not a change to the account.
    """

    # The many-to-many fields whose changes are changes to the account or group.
    ROLE_FIELDS = {"User": ("groups", "user_permissions"), "Group": ("permissions",)}

    def finalize(self, sender, **kwargs):
        super().finalize(sender, **kwargs)
        for name in self.ROLE_FIELDS.get(sender.__name__, ()):
            models.signals.m2m_changed.connect(
                self.roles_changed,
                sender=getattr(sender, name).through,
                weak=False,
                dispatch_uid=f"guidance_roles_{sender.__name__}_{name}",
            )

    def post_save(self, instance, created, using=None, **kwargs):
        update_fields = kwargs.get("update_fields")
        # A sign-in saves last_login, and may re-hash the password: history keeps neither.
        if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
            return
        from .history import recorded  # noqa: PLC0415 - history imports the models

        with recorded(instance):
            super().post_save(instance, created, using=using, **kwargs)

    def post_delete(self, instance, using=None, **kwargs):
        from .history import recorded  # noqa: PLC0415

        with recorded(instance):
            super().post_delete(instance, using=using, **kwargs)

    def roles_changed(self, sender, instance, action, reverse, model, pk_set, **kwargs):
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        from .history import recorded  # noqa: PLC0415

        # group.user_set.add(user) changes the user: the other end is the one recorded.
        changed = list(model._base_manager.filter(pk__in=pk_set or ())) if reverse else [instance]
        for record in changed:
            with recorded(record):
                self.create_historical_record(record, "~")


def _track_accounts():
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.contrib.auth.models import Group  # noqa: PLC0415
    from simple_history import register  # noqa: PLC0415

    for model in (get_user_model(), Group):
        register(
            model,
            app="guidance",
            records_class=AccountHistory,
            bases=[ChangeSetHistory, RolesHistory],
            # A password hash is no one's business; a sign-in is not a change.
            excluded_fields=["password", "last_login"],
            cascade_delete_history=False,
        )
    return (get_user_model(), Group)


# Written outside recording() as changes of their own (see AccountHistory).
ACCOUNT_MODELS = _track_accounts()


class UntrackedWrite(RuntimeError):
    """A bulk write that would leave no history row."""


# Set only by guidance.history's bulk helpers, which write the history rows themselves.
bulk_write_permitted = contextvars.ContextVar("bulk_write_permitted", default=False)


class TrackedQuerySet(models.QuerySet):
    """Refuses update(), bulk_create() and bulk_update(), which write no history.

    Use save(), or guidance.history.bulk_create_with_history / bulk_update_with_history.
    """

    def _refuse_untracked(self, method):
        if not bulk_write_permitted.get():
            raise UntrackedWrite(
                f"{self.model.__name__}.objects.{method}() would write no history: save each "
                "object, or use guidance.history.bulk_create_with_history() or "
                "bulk_update_with_history()"
            )

    def update(self, **kwargs):
        self._refuse_untracked("update")
        return super().update(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        self._refuse_untracked("bulk_create")
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, *args, **kwargs):
        self._refuse_untracked("bulk_update")
        return super().bulk_update(objs, *args, **kwargs)


class Programme(models.Model):
    class Vocabulary(models.TextChoices):
        INTERVENTIONAL = "interventional", _("Interventional procedures")
        HEALTHTECH = "healthtech", _("HealthTech")
        MEDTECH = "medtech", _("Medical technologies")
        APPRAISAL = "appraisal", _("Technology appraisal")
        GUIDELINE = "guideline", _("Guideline (strength by verb)")
        NONE = "none", _("No categories")

    code = models.CharField(
        _("prefix"),
        max_length=8,
        unique=True,
        help_text=_("The letters of the programme's references, e.g. HTG, IPG, NG."),
    )
    name = models.CharField(
        _("name"), max_length=200, help_text=_("As NICE prints it, e.g. 'HealthTech guidance'.")
    )
    recommendation_vocabulary = models.CharField(
        max_length=20,
        choices=Vocabulary,
        default=Vocabulary.NONE,
        help_text=_("Which categories its recommendations are put in."),
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Retired programmes publish no new guidance.")
    )

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class ResponsibilityStatement(models.Model):
    """The 'Your responsibility' wording of a programme, from the date it applies."""

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="responsibility_statements"
    )
    applies_from = models.DateField()
    applies_from_precision = models.CharField(
        max_length=5, choices=DatePrecision, default=DatePrecision.DAY
    )
    text = models.TextField(help_text=_("Paragraphs separated by a blank line."))

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["programme", "-applies_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "applies_from"], name="one_responsibility_per_programme_date"
            )
        ]

    def __str__(self):
        applies_from = format_date(self.applies_from, self.applies_from_precision)
        return f"{self.programme.code} from {applies_from}"

    @property
    def paragraphs(self):
        return [p for p in self.text.split("\n\n") if p.strip()]


class GuidanceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    TEMPORARILY_WITHDRAWN = "temporarily-withdrawn", _("Temporarily withdrawn")
    RETIRED = "retired", _("Retired")
    TERMINATED = "terminated", _("Terminated")

    @property
    def is_public(self):
        return self != GuidanceStatus.DRAFT

    @property
    def is_withdrawn(self):
        return self in (
            GuidanceStatus.WITHDRAWN,
            GuidanceStatus.TEMPORARILY_WITHDRAWN,
            GuidanceStatus.RETIRED,
            GuidanceStatus.TERMINATED,
        )


PUBLIC_STATUSES = [status for status in GuidanceStatus if status.is_public]
SEARCH_CONFIG = "english"
MAX_MIGRATION_HOPS = 5


def reference_and_title_words():
    """The words of a document's reference and title, as migration 0008's GIN index holds them.

    The index is made by the migration alone, on PostgreSQL: in the model's Meta it would be
    made on SQLite too, whenever a migration rebuilds the table.
    """
    return SearchVector("reference", "title", config=SEARCH_CONFIG)


# The fields by which a draft edition goes through review: workflow, not what the document says.
EDITION_WORKFLOW_FIELDS = (
    "edition_of",
    "review_state",
    "review_note",
    "review_comment",
    "submitted_by",
    "publish_at",
    "pending_update_text",
)


class GuidanceQuerySet(TrackedQuerySet):
    def draft_editions(self):
        """Draft editions of published documents (with_editions only: objects hides them)."""
        return self.filter(edition_of__isnull=False)

    def published(self):
        """Everything the public may see: all but drafts (withdrawn guidance keeps its page)."""
        return self.exclude(status=GuidanceStatus.DRAFT)

    def documents(self):
        """Records we hold text for, not stubs known only from a notice."""
        return self.filter(is_stub=False)

    def ever_published(self):
        """Those that are public now or were public in any recorded state."""
        was_public = Guidance.history.exclude(status=GuidanceStatus.DRAFT).values("id")
        # A draft edition is never public itself: it is applied to its document.
        return self.filter(edition_of__isnull=True).filter(
            ~Q(status=GuidanceStatus.DRAFT) | Q(published_on__isnull=False) | Q(pk__in=was_public)
        )

    def delete(self):
        kept = list(self.ever_published())
        if kept:
            raise PublishedGuidanceIsKept(
                "Guidance that was ever published cannot be deleted; withdraw it or record "
                f"what replaces it: {', '.join(g.reference for g in kept)}.",
                set(kept),
            )
        return super().delete()

    def search(self, text):
        """Documents matching keywords, best first; a reference finds the document now in force.

        PostgreSQL ranks a web-style query (quoted phrases, OR, -word) over reference, title and
        paragraph text; other databases match words and quoted phrases as substrings. Records
        known only from a notice are found by their reference alone.
        """
        text = (text or "").strip()
        if not text:
            return self
        if connection.vendor == "postgresql":
            query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
            # Editions are left out by the outer query; the index answers this one alone.
            in_title = (
                Guidance.with_editions.alias(words=reference_and_title_words())
                .filter(words=query)
                .values("pk")
            )
            in_text = SearchDocument.objects.filter(words=query).values("guidance_id")
            by_words = Q(pk__in=in_title) | Q(pk__in=in_text)
            found = self.filter(by_reference(text) | (Q(is_stub=False) & by_words))
            # Title matches first, ranked; the words are parsed only for those documents.
            rank = models.Case(
                models.When(pk__in=in_title, then=SearchRank(reference_and_title_words(), query)),
                default=0.0,
            )
            return (
                found.exclude(pk__in=migrated_references())
                .annotate(rank=rank)
                .order_by("-rank", models.F("published_on").desc(nulls_last=True), "reference")
            )
        # Quoted phrases are matched whole, other words one by one.
        words = [phrase or word for phrase, word in re.findall(r'"([^"]+)"|([^\s"]+)', text)]
        by_words = Q()
        for word in words:
            by_words &= (
                Q(title__icontains=word)
                | Q(reference__iexact=word)
                | Q(pk__in=Block.objects.filter(text__icontains=word).values("guidance_id"))
            )
        found = self.filter(by_reference(text) | (Q(is_stub=False) & by_words))
        return found.exclude(pk__in=migrated_references()).newest_first()

    def newest_first(self):
        """By date published, newest first; guidance without a date last, on every database."""
        return self.order_by(models.F("published_on").desc(nulls_last=True), "reference")


def migrated_references():
    """Ids of references that were migrated: they are found as the document they now are."""
    return Relation.objects.filter(type=RelationType.MIGRATED_TO).values("source_id")


def by_reference(text):
    """A condition finding the record a reference names and the documents now in its place.

    A migrated reference leads to its new document, a replaced one to what replaces it.
    """
    try:
        reference = normalise_reference(text)
    except MalformedReference:
        return Q(pk__in=[])
    named = Relation.objects.filter(source__reference=reference, type=RelationType.MIGRATED_TO)
    replaced = Relation.objects.filter(
        target__reference=reference,
        type__in=[RelationType.REPLACES, RelationType.PARTIALLY_REPLACES],
    )
    return (
        Q(reference=reference)
        | Q(pk__in=named.values("target_id"))
        | Q(pk__in=replaced.values("source_id"))
    )


class DocumentManager(models.Manager.from_queryset(GuidanceQuerySet)):
    """Documents only: public pages, imports and the admin's list never see draft editions."""

    def get_queryset(self):
        return super().get_queryset().filter(edition_of__isnull=True)

    def public_records(self):
        """The public records, each with what its pages need to know before asking more.

        Most documents have no relations and no endorsements: knowing it saves a query each.
        """
        # Built once per process and cloned for each use, as a class-based view clones its
        # queryset: building the query (its three subqueries) cost more than running it.
        return self._public_records.all()

    @functools.cached_property
    def _public_records(self):
        return (
            self.published()
            .select_related("programme")
            .annotate(
                has_relations=models.Exists(
                    Relation.objects.filter(
                        Q(source=models.OuterRef("pk")) | Q(target=models.OuterRef("pk"))
                    )
                ),
                has_endorsements=models.Exists(
                    Endorsement.objects.filter(guidance=models.OuterRef("pk"))
                ),
                has_update_information=models.Exists(
                    UpdateEntry.objects.filter(guidance=models.OuterRef("pk"))
                ),
            )
        )

    def resolve(self, reference):
        """Return (current, requested): the public record at a reference, and the document it
        now lives in once migrations are followed. Unknown, malformed or non-public references
        raise Guidance.DoesNotExist.
        """
        try:
            reference = normalise_reference(reference)
        except MalformedReference:
            raise Guidance.DoesNotExist(f"{reference!r} is not a guidance reference.") from None
        public = self.public_records()
        requested = public.get(reference=reference).with_public_relations()
        current = requested
        # Each hop costs a lookup; real chains are one or two long, and a cycle must end.
        for _hop in range(MAX_MIGRATION_HOPS):
            if current.migration is None:
                break
            current = public.get(pk=current.migration.target_id).with_public_relations()
        return current, requested


class ReviewState(models.TextChoices):
    """Where a draft (a new document or a draft edition) is on its way to publication."""

    EDITING = "", _("Being edited")
    SUBMITTED = "submitted", _("Awaiting review")
    SENT_BACK = "sent-back", _("Sent back")
    SCHEDULED = "scheduled", _("Scheduled")


class Guidance(models.Model):
    reference = models.CharField(
        _("reference"),
        max_length=20,
        help_text=_(
            "Programme prefix and number, e.g. HTG501. Stored upper case, no leading zeros."
        ),
    )
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="guidance")
    number = models.PositiveIntegerField(_("number"))
    title = models.CharField(_("title"), max_length=500, blank=True)
    summary = models.TextField(
        _("summary"),
        blank=True,
        help_text=_("The line under the title, e.g. 'Evidence-based recommendations on …'."),
    )
    status = models.CharField(
        _("status"), max_length=25, choices=GuidanceStatus, default=GuidanceStatus.DRAFT
    )
    status_explanation = models.TextField(
        _("public explanation"),
        blank=True,
        help_text=_("Shown to the public on withdrawn, retired or terminated guidance."),
    )
    is_stub = models.BooleanField(
        _("known only from a notice"),
        default=False,
        help_text=_("A reference named by another document's notice; we hold none of its text."),
    )
    published_on = models.DateField(_("published"), null=True, blank=True)
    published_precision = models.CharField(
        max_length=5, choices=DatePrecision, default=DatePrecision.DAY
    )
    last_updated_on = models.DateField(
        _("last updated"),
        null=True,
        blank=True,
        help_text=_("Date of the last major change; a minor change leaves it as it is."),
    )
    last_updated_precision = models.CharField(
        max_length=5, choices=DatePrecision, default=DatePrecision.MONTH
    )
    isbn = models.CharField(_("ISBN"), max_length=20, blank=True)
    review_decision_on = models.DateField(
        _("review decision date"),
        null=True,
        blank=True,
        help_text=_("As the overview states it: 'Review decision date: March 2027'."),
    )
    # Blank when there is no date, so that history rows written before these columns existed
    # keep their hashes (see ledger._hash_content).
    review_decision_precision = models.CharField(max_length=5, choices=DatePrecision, blank=True)
    last_reviewed_on = models.DateField(
        _("last reviewed"),
        null=True,
        blank=True,
        help_text=_("As the overview states it: 'Last reviewed: 4 June 2024'."),
    )
    last_reviewed_precision = models.CharField(max_length=5, choices=DatePrecision, blank=True)
    notices = models.TextField(
        _("notices"),
        blank=True,
        help_text=_(
            "Notices shown under the title, one paragraph each, dated as published, e.g. "
            "'November 2021: We added a definition of sepsis to recommendation 1.2.2.'"
        ),
    )
    minor_changes_heading = models.CharField(
        max_length=100,
        default="Minor changes since publication",
        help_text=_("Older documents say 'Minor changes after publication'."),
    )
    version = models.PositiveIntegerField(
        default=1, help_text=_("Counts saves, so that two editors cannot overwrite each other.")
    )
    # Editions: published guidance is changed through a copy that points at it.
    edition_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="editions",
        help_text=_("The published document this draft edition will be applied to."),
    )
    review_state = models.CharField(
        _("review"), max_length=10, choices=ReviewState, default=ReviewState.EDITING, blank=True
    )
    review_note = models.TextField(_("note to the reviewer"), blank=True)
    review_comment = models.TextField(_("reviewer's comment"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who submitted the draft for review."),
    )
    publish_at = models.DateTimeField(
        _("scheduled for"),
        null=True,
        blank=True,
        help_text=_("When an approved draft goes live; nothing goes live before it."),
    )
    pending_update_text = models.TextField(
        _("update information to publish"),
        blank=True,
        help_text=_("A major change's wording, added under 'Update information' on publication."),
    )

    objects = DocumentManager()
    with_editions = GuidanceQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["programme__code", "number"]
        verbose_name_plural = _("guidance")
        constraints = [
            models.CheckConstraint(condition=Q(number__gt=0), name="guidance_number_positive"),
            # A draft edition carries its document's reference; documents are one per reference.
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(edition_of__isnull=True),
                name="one_document_per_reference",
            ),
            models.UniqueConstraint(
                fields=["edition_of"],
                condition=Q(edition_of__isnull=False),
                name="one_draft_edition_per_document",
            ),
            models.CheckConstraint(
                condition=Q(edition_of__isnull=True) | Q(status="draft"),
                name="draft_editions_are_drafts",
            ),
        ]
        permissions = [
            ("publish_guidance", "Can publish, withdraw and reinstate guidance"),
            ("migrate_guidance", "Can migrate and replace guidance"),
            ("view_audit", "Can read the audit history"),
        ]

    def __str__(self):
        return f"{self.reference}: {self.title}" if self.title else self.reference

    def save(self, *args, **kwargs):
        self.reference = normalise_reference(self.reference)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("guidance:overview", args=[self.reference.lower()])

    def clean(self):
        for name in ("review_decision", "last_reviewed"):
            if getattr(self, f"{name}_on") and not getattr(self, f"{name}_precision"):
                raise ValidationError(
                    {f"{name}_precision": _("Say how precisely the date is known.")}
                )

    def get_history_url(self):
        return reverse("guidance:history", args=[self.reference.lower()])

    def get_whole_url(self):
        return reverse("guidance:whole", args=[self.reference.lower()])

    @property
    def status_enum(self):
        return GuidanceStatus(self.status)

    @property
    def published_display(self):
        return format_date(self.published_on, self.published_precision)

    @property
    def last_updated_display(self):
        return format_date(self.last_updated_on, self.last_updated_precision)

    @property
    def review_decision_display(self):
        return format_date(self.review_decision_on, self.review_decision_precision)

    @property
    def last_reviewed_display(self):
        return format_date(self.last_reviewed_on, self.last_reviewed_precision)

    @property
    def notice_paragraphs(self):
        return [part.strip() for part in self.notices.split("\n\n") if part.strip()]

    def delete(self, *args, **kwargs):
        if self.was_ever_published():
            raise PublishedGuidanceIsKept(
                f"{self.reference} was published, so it is kept: withdraw it (with a public "
                "explanation) or record what replaces it.",
                {self},
            )
        return super().delete(*args, **kwargs)

    def was_ever_published(self):
        return Guidance.objects.filter(pk=self.pk).ever_published().exists()

    @property
    def is_edition(self):
        return self.edition_of_id is not None

    @property
    def document(self):
        """The published document this record is, or is a draft edition of."""
        return self.edition_of if self.is_edition else self

    @property
    def is_overdue(self):
        return (
            self.review_state == ReviewState.SCHEDULED
            and self.publish_at is not None
            and self.publish_at <= timezone.now()
        )

    def publish(self, *, by, reason, on=None):
        """Make a draft public, as of today unless it already carries a published date."""
        from .history import recording  # noqa: PLC0415 - history imports this module

        if self.is_edition:
            raise RefusedChange("A draft edition is published by applying it to its document.")
        with recording(user=by, reason=reason, source=ChangeSet.Source.PUBLICATION, guidance=self):
            self._lock()
            if self.status != GuidanceStatus.DRAFT:
                raise RefusedChange(f"{self.reference} is already {self.get_status_display()}.")
            today = timezone.localdate()
            if self.published_on is not None and self.published_on > today:
                raise RefusedChange(
                    f"{self.reference} carries a published date in the future "
                    f"({self.published_display}): nothing is published early. Schedule it."
                )
            self.review_state, self.publish_at = ReviewState.EDITING, None
            if self.published_on is None:
                self.published_on = on or timezone.localdate()
                self.published_precision = DatePrecision.DAY
            self._set_status(GuidanceStatus.PUBLISHED, explanation="")
        return self

    def withdraw(self, *, by, reason, explanation, temporarily=False):
        """Take published guidance off, keeping its page with the public explanation."""
        from .history import recording  # noqa: PLC0415 - history imports this module

        new_status = (
            GuidanceStatus.TEMPORARILY_WITHDRAWN if temporarily else GuidanceStatus.WITHDRAWN
        )
        allowed = {GuidanceStatus.PUBLISHED}
        if not temporarily:
            allowed.add(GuidanceStatus.TEMPORARILY_WITHDRAWN)
        if not (explanation or "").strip():
            raise RefusedChange("A withdrawal needs a public explanation.")
        with recording(user=by, reason=reason, source=ChangeSet.Source.WORKFLOW, guidance=self):
            self._lock()
            if self.status not in allowed:
                raise RefusedChange(
                    f"{self.reference} is {self.get_status_display()}: only published guidance "
                    f"can be {new_status.label.lower()}."
                )
            self._set_status(new_status, explanation=explanation.strip())
        return self

    def reinstate(self, *, by, reason):
        """Publish withdrawn guidance again; its withdrawal explanation stays in history."""
        from .history import recording  # noqa: PLC0415 - history imports this module

        withdrawn = (GuidanceStatus.WITHDRAWN, GuidanceStatus.TEMPORARILY_WITHDRAWN)
        with recording(user=by, reason=reason, source=ChangeSet.Source.WORKFLOW, guidance=self):
            self._lock()
            if self.status not in withdrawn:
                raise RefusedChange(
                    f"{self.reference} is {self.get_status_display()}: only withdrawn guidance "
                    "can be reinstated."
                )
            self._set_status(GuidanceStatus.PUBLISHED, explanation="")
        return self

    def _lock(self):
        # Two publishers acting at once queue here; the second then checks the first's result.
        Guidance.objects.select_for_update().filter(pk=self.pk).first()
        self.refresh_from_db()

    def _set_status(self, status, *, explanation):
        self.status = status
        self.status_explanation = explanation
        self.version += 1
        self.save()

    @property
    def long_name(self):
        """As NICE names it in notices: 'NICE interventional procedures guidance 508'."""
        name = self.programme.name
        if name.startswith("NICE"):
            return f"{name} {self.reference}"
        if name.split()[0][1:].islower():
            name = name[0].lower() + name[1:]
        return f"NICE {name} {self.number}"

    def with_public_relations(self):
        """Load the public relations of this record, both ways in one query; return self.

        Only relations whose other end is public are kept, as the public pages show them.
        """
        rows = []
        # resolve() says whether there are any, so that most pages skip the query.
        if getattr(self, "has_relations", True):
            rows = (
                Relation.objects.filter(
                    Q(source=self, target__status__in=PUBLIC_STATUSES)
                    | Q(target=self, source__status__in=PUBLIC_STATUSES)
                )
                .select_related("source__programme", "target__programme")
                .order_by()
            )
        self.keep_public_relations(rows)
        return self

    def keep_public_relations(self, rows):
        """Hold relations loaded elsewhere (each with its source and target) as this record's.

        They are kept where Prefetch("relations", to_attr="public_relations") and its inverse
        would put them; one query reads both ways, where two prefetches would take two.
        """
        # Relation's ordering, applied here: in SQL it joins each source's programme again.
        rows = sorted(
            rows, key=lambda r: (r.source.programme.code, r.source.number, r.position, r.id)
        )
        self.public_relations, self.public_inverse_relations = [], []
        for row in rows:
            # A relation of the document to itself is both, as the two prefetches would have it.
            if row.source_id == self.pk:
                row.source = self
                self.public_relations.append(row)
            if row.target_id == self.pk:
                row.target = self
                self.public_inverse_relations.append(row)

    # The relation helpers read the public relations when they were loaded, else all of them.
    def outgoing_relations(self, *types):
        """This record's relations to others (of these types, or all)."""
        relations = getattr(self, "public_relations", None)
        if relations is None:
            relations = self.relations.all()
        return [relation for relation in relations if not types or relation.type in types]

    def incoming_relations(self, *types):
        """Other records' relations to this one (of these types, or all)."""
        relations = getattr(self, "public_inverse_relations", None)
        if relations is None:
            relations = self.inverse_relations.all()
        return [relation for relation in relations if not types or relation.type in types]

    @property
    def migration(self):
        """The relation saying where this reference now lives, if it was migrated."""
        return next(iter(self.outgoing_relations(RelationType.MIGRATED_TO)), None)

    @property
    def former_references(self):
        """Relations from the references this document was migrated from."""
        return self.incoming_relations(RelationType.MIGRATED_TO)

    @property
    def replaced_by(self):
        return self.incoming_relations(RelationType.REPLACES, RelationType.PARTIALLY_REPLACES)

    @property
    def replaces(self):
        return self.outgoing_relations(RelationType.REPLACES, RelationType.PARTIALLY_REPLACES)

    @property
    def other_relations(self):
        """(wording, other document) for 'read in conjunction with' and 'is based on' relations."""
        types = (RelationType.READ_WITH, RelationType.BASED_ON)
        wording = {RelationType.READ_WITH: _("should be read in conjunction with")}
        return [
            (wording.get(r.type, r.get_type_display()), r.target)
            for r in self.outgoing_relations(*types)
        ] + [
            (wording.get(r.type, RelationType(r.type).inverse_label), r.source)
            for r in self.incoming_relations(*types)
        ]

    def responsibility_statement(self, on=None):
        """The programme's 'Your responsibility' wording in force on a date (default today)."""
        from django.utils import timezone  # noqa: PLC0415

        return (
            self.programme.responsibility_statements.filter(
                applies_from__lte=on or timezone.localdate()
            )
            .order_by("-applies_from")
            .first()
        )


class SearchDocument(models.Model):
    """The words of all the paragraphs of a document (PostgreSQL only).

    Derived, with no history: PostgreSQL keeps the table itself, with triggers on the blocks
    (migration 0004), so that no write path can forget it.
    """

    guidance = models.OneToOneField(
        Guidance,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_constraint=False,
        related_name="+",
    )
    words = SearchVectorField(db_column="vector")

    class Meta:
        managed = False
        db_table = "guidance_search_document"

    def __str__(self):
        return f"Words of guidance {self.guidance_id}"


class Chapter(models.Model):
    guidance = models.ForeignKey(Guidance, on_delete=models.CASCADE, related_name="chapters")
    position = models.PositiveIntegerField()
    number = models.CharField(
        max_length=10, blank=True, help_text=_("As published; may be absent or have gaps.")
    )
    title = models.CharField(max_length=500)
    slug = models.SlugField(
        max_length=200, help_text=_("From the numbered heading, e.g. 1-recommendations.")
    )
    # Null only for parts older than keys; a part gets one when a draft edition is made.
    key = models.UUIDField(
        null=True,
        default=uuid.uuid4,
        editable=False,
        help_text=_("Stays the same through renumbering, moves, migrations and editions."),
    )

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["guidance", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["guidance", "position"], name="one_chapter_per_position"
            ),
            models.UniqueConstraint(fields=["guidance", "slug"], name="unique_chapter_slug"),
            models.UniqueConstraint(fields=["guidance", "key"], name="one_chapter_per_key"),
        ]

    def __str__(self):
        return self.heading

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = chapter_slug(self.number, self.title)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("guidance:chapter", args=[self.guidance.reference.lower(), self.slug])

    @property
    def heading(self):
        return f"{self.number} {self.title}" if self.number else self.title

    @property
    def is_recommendations(self):
        return is_recommendations_title(self.title)


def chapter_slug(number, title):
    return slugify(f"{number} {title}" if number else title)[:200]


RECOMMENDATIONS_TITLES = ("recommendations", "guidance", "the recommendations")


def is_recommendations_title(title):
    return title.strip().lower() in RECOMMENDATIONS_TITLES


class RecommendationCategory(models.TextChoices):
    # Interventional procedures
    STANDARD_ARRANGEMENTS = "standard arrangements", _("standard arrangements")
    SPECIAL_ARRANGEMENTS = "special arrangements", _("special arrangements")
    ONLY_IN_RESEARCH = "only in research", _("only in research")
    DO_NOT_USE = "do not use", _("do not use")
    # NICE-wide wording since the HealthTech merge
    CAN_BE_USED = "can be used", _("can be used")
    EVIDENCE_GENERATION = (
        "can be used during evidence generation",
        _("can be used during evidence generation"),
    )
    MORE_RESEARCH_NEEDED = "more research is needed", _("more research is needed")
    SHOULD_NOT_BE_USED = "should not be used", _("should not be used")
    # Medical technologies
    CASE_SUPPORTED = "case for adoption supported", _("case for adoption supported")
    CASE_PARTIALLY_SUPPORTED = (
        "case for adoption partially supported",
        _("case for adoption partially supported"),
    )
    CASE_NOT_SUPPORTED = "case for adoption not supported", _("case for adoption not supported")
    # Technology appraisals
    RECOMMENDED = "recommended", _("recommended")
    OPTIMISED = "optimised", _("optimised")
    NOT_RECOMMENDED = "not recommended", _("not recommended")
    # Medical technologies, diagnostics and evidence summaries
    FURTHER_RESEARCH = "further research recommended", _("further research recommended")
    # Guidelines: strength shown by the verb
    OFFER = "offer", _("offer (strong)")
    CONSIDER = "consider", _("consider")
    DO_NOT_OFFER = "do not offer", _("do not offer")


block_history = tracked_history()


class Block(models.Model):
    """One piece of a chapter in order: heading, paragraph, recommendation, rationale, research."""

    class Kind(models.TextChoices):
        HEADING = "heading", _("sub-heading")
        PARAGRAPH = "paragraph", _("paragraph")
        RECOMMENDATION = "recommendation", _("recommendation")
        RATIONALE = "rationale", _("rationale")
        RESEARCH = "research", _("research recommendation")

    guidance = models.ForeignKey(Guidance, on_delete=models.CASCADE, related_name="blocks")
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="blocks")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.PARAGRAPH)
    number = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("As published, e.g. 2.4 or 1.1.3; blank for text without a number."),
    )
    title = models.CharField(
        max_length=500,
        blank=True,
        help_text=_(
            "For a rationale or a research recommendation: its heading, e.g. 'Why the "
            "committee made these recommendations'."
        ),
    )
    level = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "For a heading, rationale or research recommendation: 1 directly under the chapter "
            "heading, 2 under a level 1 heading, and so on."
        ),
    )
    text = models.TextField(blank=True)
    bullets = models.JSONField(
        default=list, blank=True, help_text=_("The paragraph's bullet list, one item each.")
    )
    category = models.CharField(
        max_length=50,
        choices=RecommendationCategory,
        blank=True,
        help_text=_("Recommendations only: the category the wording puts it in."),
    )
    # Null only for parts older than keys; a part gets one when a draft edition is made.
    key = models.UUIDField(
        null=True,
        default=uuid.uuid4,
        editable=False,
        help_text=_("Stays the same through renumbering, moves, migrations and editions."),
    )

    objects = TrackedQuerySet.as_manager()

    history = block_history

    class Meta:
        ordering = ["chapter__position", "position"]
        constraints = [
            models.UniqueConstraint(fields=["chapter", "position"], name="one_block_per_position"),
            models.UniqueConstraint(
                fields=["chapter", "number"],
                condition=~Q(number=""),
                name="one_number_per_paragraph_in_chapter",
            ),
            models.CheckConstraint(
                condition=Q(category="") | Q(kind="recommendation"),
                name="only_recommendations_have_a_category",
            ),
            models.UniqueConstraint(fields=["guidance", "key"], name="one_block_per_key"),
        ]

    def __str__(self):
        label = self.number or self.title or self.get_kind_display()
        return f"{self.guidance.reference} {label}" if self.guidance_id else label


class RecommendationManager(models.Manager.from_queryset(TrackedQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(kind=Block.Kind.RECOMMENDATION)


class Recommendation(Block):
    """The recommendations of a document: numbered blocks of its recommendations chapter."""

    objects = RecommendationManager()

    class Meta:
        proxy = True

    def save(self, *args, **kwargs):
        self.kind = Block.Kind.RECOMMENDATION
        super().save(*args, **kwargs)


# Django sends a proxy's save signals with the proxy as sender; simple-history listens for
# the concrete model only, so a recommendation saved through the proxy needs these too.
models.signals.post_save.connect(block_history.post_save, sender=Recommendation, weak=False)
models.signals.post_delete.connect(block_history.post_delete, sender=Recommendation, weak=False)


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True)

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Endorsement(models.Model):
    guidance = models.ForeignKey(Guidance, on_delete=models.CASCADE, related_name="endorsements")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="endorsements"
    )
    statement = models.TextField(
        blank=True, help_text=_("As printed, e.g. 'This guidance has been endorsed by …'.")
    )

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["guidance", "organisation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["guidance", "organisation"], name="one_endorsement_per_organisation"
            )
        ]

    def __str__(self):
        return f"{self.guidance.reference} endorsed by {self.organisation}"


class UpdateEntry(models.Model):
    """A dated entry of a document's 'Update information', in published order."""

    guidance = models.ForeignKey(Guidance, on_delete=models.CASCADE, related_name="update_entries")
    position = models.PositiveIntegerField()
    date = models.DateField()
    precision = models.CharField(max_length=5, choices=DatePrecision, default=DatePrecision.MONTH)
    kind = models.CharField(max_length=5, choices=ChangeKind)
    text = models.TextField()
    # Null only for parts older than keys; a part gets one when a draft edition is made.
    key = models.UUIDField(
        null=True,
        default=uuid.uuid4,
        editable=False,
        help_text=_("Stays the same through renumbering, moves, migrations and editions."),
    )

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["guidance", "position"]
        verbose_name_plural = _("update entries")
        constraints = [
            models.UniqueConstraint(
                fields=["guidance", "position"], name="one_update_entry_per_position"
            ),
            models.UniqueConstraint(fields=["guidance", "key"], name="one_update_entry_per_key"),
        ]

    def __str__(self):
        return f"{self.guidance.reference} {self.date_display} ({self.kind})"

    @property
    def date_display(self):
        return format_date(self.date, self.precision)


class RelationType(models.TextChoices):
    """Read as: source <type> target, e.g. HTG501 replaces IPG420; IPG640 migrated to HTG501."""

    REPLACES = "replaces", _("replaces")
    PARTIALLY_REPLACES = "partially-replaces", _("partially replaces")
    MIGRATED_TO = "migrated-to", _("migrated to")
    READ_WITH = "read-with", _("read in conjunction with")
    BASED_ON = "based-on", _("is based on")

    @property
    def inverse_label(self):
        return {
            "replaces": _("is replaced by"),
            "partially-replaces": _("is partially replaced by"),
            "migrated-to": _("migrated from"),
            "read-with": _("read in conjunction with"),
            "based-on": _("is the basis of"),
        }[self.value]


class Relation(models.Model):
    source = models.ForeignKey(Guidance, on_delete=models.PROTECT, related_name="relations")
    type = models.CharField(max_length=20, choices=RelationType)
    target = models.ForeignKey(Guidance, on_delete=models.PROTECT, related_name="inverse_relations")
    effective_on = models.DateField(null=True, blank=True)
    effective_precision = models.CharField(
        max_length=5, choices=DatePrecision, default=DatePrecision.MONTH
    )
    note = models.TextField(blank=True, help_text=_("The notice wording, as published."))
    position = models.PositiveIntegerField(
        default=0, help_text=_("Order among the source's relations, as the notice lists them.")
    )

    objects = TrackedQuerySet.as_manager()

    history = tracked_history()

    class Meta:
        ordering = ["source", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "type", "target"], name="one_relation_per_type_and_pair"
            ),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="no_self_relation"
            ),
        ]

    def __str__(self):
        return f"{self.source.reference} {self.get_type_display()} {self.target.reference}"

    @property
    def effective_display(self):
        return format_date(self.effective_on, self.effective_precision)


class HistoryVerification(models.Model):
    """One run of the history's verification: when, and what it found.

    Not history itself (it says whether history verifies), so kept as a plain table.
    """

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(db_index=True)
    passed = models.BooleanField()
    problem_count = models.PositiveIntegerField(default=0)
    # The first problems found, one a line.
    problems = models.TextField(blank=True)
    head_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    head_digest = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-finished_at"]
        get_latest_by = "finished_at"

    def __str__(self):
        verdict = "verifies" if self.passed else f"{self.problem_count} problem(s)"
        return f"{self.finished_at:%Y-%m-%d %H:%M} {verdict}"

    @property
    def problem_lines(self):
        return self.problems.splitlines()

    @property
    def history_rows_checked(self):
        return self.counts.get("history rows", 0)
