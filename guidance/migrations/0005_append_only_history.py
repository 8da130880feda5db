from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("guidance", "0004_search")]

    operations = []
