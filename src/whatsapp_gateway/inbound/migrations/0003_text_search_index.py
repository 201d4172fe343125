"""Trigram index for the Inbound Logs text search (``inbound/text_search.py``): pg_trgm GIN on PostgreSQL, an FTS5
trigram table on SQLite. No model state changes."""

from django.db import migrations


def forwards(apps, schema_editor):
    from whatsapp_gateway.inbound.text_search import ensure_text_search_index

    ensure_text_search_index(schema_editor.connection)


def backwards(apps, schema_editor):
    from whatsapp_gateway.inbound.text_search import drop_text_search_index

    drop_text_search_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("inbound", "0002_inboundmessage")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
