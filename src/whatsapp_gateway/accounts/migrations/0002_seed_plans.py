from django.db import migrations

PLANS = [
    ("starter", "Starter", 100, 2000, 2),
    ("growth", "Growth", 500, 10000, 5),
    ("scale", "Scale", 1500, 30000, 15),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for code, name, daily, monthly, max_instances in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={"name": name, "daily_limit": daily, "monthly_limit": monthly, "max_instances": max_instances},
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
