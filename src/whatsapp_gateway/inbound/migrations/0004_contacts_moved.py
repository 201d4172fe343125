# Contact, ContactIdentity and Conversation now belong to the ``contacts`` app (contacts/migrations/0001_initial.py):
# state only, the tables and their rows stay where they are.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inbound', '0003_text_search_index'),
        ('contacts', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='inboundmessage',
                    name='contact',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inbound_messages', to='contacts.contact'),
                ),
                migrations.DeleteModel(name='Conversation'),
                migrations.DeleteModel(name='ContactIdentity'),
                migrations.DeleteModel(name='Contact'),
            ],
        ),
    ]
