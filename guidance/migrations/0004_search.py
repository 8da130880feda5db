from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("guidance", "0003_roles")]

    operations = []
