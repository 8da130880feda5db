from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("guidance", "0002_programmes")]

    operations = []
