import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('guidance', '0009_importer_shapes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Existing parts keep no key (a default would give them all the same one): a part
        # gets its key, as a recorded change, when a draft edition of its document is made.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(model_name='block', name='key', field=models.UUIDField(editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
            state_operations=[
                migrations.AddField(model_name='block', name='key', field=models.UUIDField(default=uuid.uuid4, editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
        ),
        # Existing parts keep no key (a default would give them all the same one): a part
        # gets its key, as a recorded change, when a draft edition of its document is made.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(model_name='chapter', name='key', field=models.UUIDField(editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
            state_operations=[
                migrations.AddField(model_name='chapter', name='key', field=models.UUIDField(default=uuid.uuid4, editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
        ),
        migrations.AddField(
            model_name='guidance',
            name='edition_of',
            field=models.ForeignKey(blank=True, help_text='The published document this draft edition will be applied to.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='editions', to='guidance.guidance'),
        ),
        migrations.AddField(
            model_name='guidance',
            name='pending_update_text',
            field=models.TextField(blank=True, help_text="A major change's wording, added under 'Update information' on publication.", verbose_name='update information to publish'),
        ),
        migrations.AddField(
            model_name='guidance',
            name='publish_at',
            field=models.DateTimeField(blank=True, help_text='When an approved draft goes live; nothing goes live before it.', null=True, verbose_name='scheduled for'),
        ),
        migrations.AddField(
            model_name='guidance',
            name='review_comment',
            field=models.TextField(blank=True, verbose_name="reviewer's comment"),
        ),
        migrations.AddField(
            model_name='guidance',
            name='review_note',
            field=models.TextField(blank=True, verbose_name='note to the reviewer'),
        ),
        migrations.AddField(
            model_name='guidance',
            name='review_state',
            field=models.CharField(blank=True, choices=[('', 'Being edited'), ('submitted', 'Awaiting review'), ('sent-back', 'Sent back'), ('scheduled', 'Scheduled')], default='', max_length=10, verbose_name='review'),
        ),
        migrations.AddField(
            model_name='guidance',
            name='submitted_by',
            field=models.ForeignKey(blank=True, help_text='Who submitted the draft for review.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        # Existing parts keep no key (a default would give them all the same one): a part
        # gets its key, as a recorded change, when a draft edition of its document is made.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(model_name='historicalblock', name='key', field=models.UUIDField(editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
            state_operations=[
                migrations.AddField(model_name='historicalblock', name='key', field=models.UUIDField(default=uuid.uuid4, editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
        ),
        # Existing parts keep no key (a default would give them all the same one): a part
        # gets its key, as a recorded change, when a draft edition of its document is made.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(model_name='historicalchapter', name='key', field=models.UUIDField(editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
            state_operations=[
                migrations.AddField(model_name='historicalchapter', name='key', field=models.UUIDField(default=uuid.uuid4, editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='edition_of',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text='The published document this draft edition will be applied to.', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='guidance.guidance'),
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='pending_update_text',
            field=models.TextField(blank=True, help_text="A major change's wording, added under 'Update information' on publication.", verbose_name='update information to publish'),
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='publish_at',
            field=models.DateTimeField(blank=True, help_text='When an approved draft goes live; nothing goes live before it.', null=True, verbose_name='scheduled for'),
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='review_comment',
            field=models.TextField(blank=True, verbose_name="reviewer's comment"),
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='review_note',
            field=models.TextField(blank=True, verbose_name='note to the reviewer'),
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='review_state',
            field=models.CharField(blank=True, choices=[('', 'Being edited'), ('submitted', 'Awaiting review'), ('sent-back', 'Sent back'), ('scheduled', 'Scheduled')], default='', max_length=10, verbose_name='review'),
        ),
        migrations.AddField(
            model_name='historicalguidance',
            name='submitted_by',
            field=models.ForeignKey(blank=True, db_constraint=False, help_text='Who submitted the draft for review.', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        # Existing parts keep no key (a default would give them all the same one): a part
        # gets its key, as a recorded change, when a draft edition of its document is made.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(model_name='historicalupdateentry', name='key', field=models.UUIDField(editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
            state_operations=[
                migrations.AddField(model_name='historicalupdateentry', name='key', field=models.UUIDField(default=uuid.uuid4, editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
        ),
        # Existing parts keep no key (a default would give them all the same one): a part
        # gets its key, as a recorded change, when a draft edition of its document is made.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(model_name='updateentry', name='key', field=models.UUIDField(editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
            state_operations=[
                migrations.AddField(model_name='updateentry', name='key', field=models.UUIDField(default=uuid.uuid4, editable=False, help_text='Stays the same through renumbering, moves, migrations and editions.', null=True)),
            ],
        ),
        migrations.AlterField(
            model_name='changeset',
            name='source',
            field=models.CharField(choices=[('admin', 'Admin'), ('workflow', 'Workflow'), ('import', 'Import'), ('system', 'System'), ('draft', 'Draft edition'), ('published', 'Publication')], default='system', max_length=10),
        ),
        migrations.AlterField(
            model_name='guidance',
            name='reference',
            field=models.CharField(help_text='Programme prefix and number, e.g. HTG501. Stored upper case, no leading zeros.', max_length=20, verbose_name='reference'),
        ),
        migrations.AlterField(
            model_name='historicalguidance',
            name='reference',
            field=models.CharField(help_text='Programme prefix and number, e.g. HTG501. Stored upper case, no leading zeros.', max_length=20, verbose_name='reference'),
        ),
        migrations.AddConstraint(
            model_name='block',
            constraint=models.UniqueConstraint(fields=('guidance', 'key'), name='one_block_per_key'),
        ),
        migrations.AddConstraint(
            model_name='chapter',
            constraint=models.UniqueConstraint(fields=('guidance', 'key'), name='one_chapter_per_key'),
        ),
        migrations.AddConstraint(
            model_name='guidance',
            constraint=models.UniqueConstraint(condition=models.Q(('edition_of__isnull', True)), fields=('reference',), name='one_document_per_reference'),
        ),
        migrations.AddConstraint(
            model_name='guidance',
            constraint=models.UniqueConstraint(condition=models.Q(('edition_of__isnull', False)), fields=('edition_of',), name='one_draft_edition_per_document'),
        ),
        migrations.AddConstraint(
            model_name='guidance',
            constraint=models.CheckConstraint(condition=models.Q(('edition_of__isnull', True), ('status', 'draft'), _connector='OR'), name='draft_editions_are_drafts'),
        ),
        migrations.AddConstraint(
            model_name='updateentry',
            constraint=models.UniqueConstraint(fields=('guidance', 'key'), name='one_update_entry_per_key'),
        ),
    ]
