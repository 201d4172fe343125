"""The account's daily totals in rows of their own, filled from the per-instance counts."""

import django.db.models.deletion
from django.db import migrations, models


def fill_from_instance_counts(apps, schema_editor):
    DailyUsage = apps.get_model("messaging", "DailyUsage")
    AccountDailyUsage = apps.get_model("messaging", "AccountDailyUsage")
    totals = DailyUsage.objects.values("account_id", "day").annotate(total=models.Sum("count")).order_by()
    AccountDailyUsage.objects.bulk_create(
        (AccountDailyUsage(account_id=row["account_id"], day=row["day"], count=row["total"]) for row in totals),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_seed_plans"),
        ("messaging", "0005_drop_indexes_led_by_composites"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountDailyUsage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("count", models.PositiveIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("account", "day"), name="account_daily_usage_unique_day")
                ],
            },
        ),
        migrations.RunPython(fill_from_instance_counts, migrations.RunPython.noop),
    ]
