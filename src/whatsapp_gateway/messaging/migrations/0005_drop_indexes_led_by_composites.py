"""Drops the single-column indexes on the account and instance foreign keys of messages and daily usage: composite
indexes lead with the same columns. Only the indexes go (the state changes db_index): altering the fields would
rebuild both tables on SQLite and re-validate the foreign keys on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models


INDEXES = [
    ("messaging_dailyusage_account_id_1ac87e07", "messaging_dailyusage", "account_id"),
    ("messaging_dailyusage_instance_id_8ea2ce3a", "messaging_dailyusage", "instance_id"),
    ("messaging_message_account_id_21900bb3", "messaging_message", "account_id"),
    ("messaging_message_instance_id_48885200", "messaging_message", "instance_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_seed_plans"),
        ("instances", "0001_initial"),
        ("messaging", "0004_message_category"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="dailyusage",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="dailyusage",
                    name="instance",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="instances.instance",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="instance",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="messages",
                        to="instances.instance",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f"DROP INDEX IF EXISTS {name}", f"CREATE INDEX {name} ON {table} ({column})")
                for name, table, column in INDEXES
            ],
        )
    ]
