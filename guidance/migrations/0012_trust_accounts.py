"""History of accounts and groups: who held which roles, when.

Every account and group there is now gets a first history row, in one signed change, so
that verification finds no live row without history and roles can be read from here on.
"""

import django.contrib.auth.validators
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from guidance import ledger


def record_accounts_as_they_are(apps, schema_editor):
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    group_model = apps.get_model("auth", "Group")
    historical_user = apps.get_model("guidance", "HistoricalUser")
    historical_group = apps.get_model("guidance", "HistoricalGroup")
    change_set_model = apps.get_model("guidance", "ChangeSet")
    ledger.install_append_only(
        schema_editor.connection,
        [historical_user._meta.db_table, historical_group._meta.db_table],
    )
    if not user_model.objects.exists() and not group_model.objects.exists():
        return
    system, _ = user_model.objects.get_or_create(
        username="system", defaults={"first_name": "System", "is_active": False}
    )
    head = ledger.chain_head(change_set_model)
    now = max(timezone.now(), head.created_at) if head else timezone.now()
    reason = "Accounts and groups as they were when their history began"
    change_set = change_set_model(created_at=now, user=system, reason=reason, source="system")
    stamp = {
        "history_date": now,
        "history_type": "+",
        "history_user": system,
        "history_change_reason": reason,
        "change_set_id": change_set.id,
    }

    def codenames(permissions):
        return sorted(
            f"{app_label}.{codename}"
            for app_label, codename in permissions.values_list(
                "content_type__app_label", "codename"
            )
        )

    rows = []
    for group in group_model.objects.order_by("pk"):
        rows.append(
            historical_group(
                id=group.pk,
                name=group.name,
                permission_codenames=codenames(group.permissions),
                **stamp,
            )
        )
    historical_group.objects.bulk_create(rows)
    rows = []
    copied = [
        field.attname
        for field in user_model._meta.concrete_fields
        if field.attname not in ("password", "last_login")
    ]
    for user in user_model.objects.order_by("pk"):
        rows.append(
            historical_user(
                **{name: getattr(user, name) for name in copied},
                group_names=sorted(user.groups.values_list("name", flat=True)),
                permission_codenames=codenames(user.user_permissions),
                **stamp,
            )
        )
    historical_user.objects.bulk_create(rows)
    ledger.seal(change_set, models=[historical_group, historical_user])
    change_set.save(force_insert=True)


class Migration(migrations.Migration):

    dependencies = [
        ('guidance', '0011_trust_signatures'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalGroup',
            fields=[
                ('id', models.IntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('name', models.CharField(db_index=True, max_length=150, verbose_name='name')),
                ('group_names', models.JSONField(blank=True, default=list, help_text='The groups the account was in.')),
                ('permission_codenames', models.JSONField(blank=True, default=list, help_text='Permissions given directly (app_label.codename), as they were.')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.TextField(null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('change_set', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='guidance.changeset')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical group',
                'verbose_name_plural': 'historical groups',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalUser',
            fields=[
                ('id', models.IntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('is_superuser', models.BooleanField(default=False, help_text='Designates that this user has all permissions without explicitly assigning them.', verbose_name='superuser status')),
                ('username', models.CharField(db_index=True, error_messages={'unique': 'A user with that username already exists.'}, help_text='Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.', max_length=150, validators=[django.contrib.auth.validators.UnicodeUsernameValidator()], verbose_name='username')),
                ('first_name', models.CharField(blank=True, max_length=150, verbose_name='first name')),
                ('last_name', models.CharField(blank=True, max_length=150, verbose_name='last name')),
                ('email', models.EmailField(blank=True, max_length=254, verbose_name='email address')),
                ('is_staff', models.BooleanField(default=False, help_text='Designates whether the user can log into this admin site.', verbose_name='staff status')),
                ('is_active', models.BooleanField(default=True, help_text='Designates whether this user should be treated as active. Unselect this instead of deleting accounts.', verbose_name='active')),
                ('date_joined', models.DateTimeField(default=django.utils.timezone.now, verbose_name='date joined')),
                ('group_names', models.JSONField(blank=True, default=list, help_text='The groups the account was in.')),
                ('permission_codenames', models.JSONField(blank=True, default=list, help_text='Permissions given directly (app_label.codename), as they were.')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.TextField(null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('change_set', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='guidance.changeset')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical user',
                'verbose_name_plural': 'historical users',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.RunPython(record_accounts_as_they_are, migrations.RunPython.noop),
    ]
