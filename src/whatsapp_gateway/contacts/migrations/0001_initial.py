# Contact, ContactIdentity and Conversation moved here from ``inbound``: state only, the tables keep their names
# (``inbound_contact``, ``inbound_contactidentity``, ``inbound_conversation``) and no row moves.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0002_seed_plans'),
        ('instances', '0001_initial'),
        ('inbound', '0003_text_search_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Contact',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('phone_e164', models.CharField(blank=True, max_length=20)),
                        ('display_name', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='accounts.account')),
                    ],
                    options={'db_table': 'inbound_contact'},
                ),
                migrations.CreateModel(
                    name='ContactIdentity',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('wa_id', models.CharField(max_length=120)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.account')),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='identities', to='contacts.contact')),
                    ],
                    options={'db_table': 'inbound_contactidentity'},
                ),
                migrations.CreateModel(
                    name='Conversation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('last_inbound_at', models.DateTimeField(blank=True, null=True)),
                        ('last_outbound_at', models.DateTimeField(blank=True, null=True)),
                        ('inbound_count', models.PositiveIntegerField(default=0)),
                        ('outbound_count', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='conversations', to='accounts.account')),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='conversations', to='contacts.contact')),
                        ('instance', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='conversations', to='instances.instance')),
                    ],
                    options={'db_table': 'inbound_conversation'},
                ),
                migrations.AddConstraint(
                    model_name='contact',
                    constraint=models.UniqueConstraint(condition=models.Q(('phone_e164', ''), _negated=True), fields=('account', 'phone_e164'), name='contact_unique_phone_per_account'),
                ),
                migrations.AddConstraint(
                    model_name='contactidentity',
                    constraint=models.UniqueConstraint(fields=('account', 'wa_id'), name='identity_unique_per_account'),
                ),
                migrations.AddIndex(
                    model_name='conversation',
                    index=models.Index(fields=['account', '-last_inbound_at'], name='inbound_con_account_4e7e6e_idx'),
                ),
                migrations.AddConstraint(
                    model_name='conversation',
                    constraint=models.UniqueConstraint(fields=('instance', 'contact'), name='conversation_unique_per_instance_contact'),
                ),
            ],
        ),
    ]
