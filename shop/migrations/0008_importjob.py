import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0007_product_search_vector"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("csv_file", models.FileField(blank=True, max_length=255, upload_to="imports/")),
                ("images_zip", models.FileField(blank=True, max_length=255, upload_to="imports/")),
                ("csv_name", models.CharField(blank=True, max_length=255, verbose_name="CSV file")),
                ("zip_name", models.CharField(blank=True, max_length=255, verbose_name="images zip")),
                ("compute_embeddings", models.BooleanField(default=True)),
                ("total", models.PositiveIntegerField(default=0, help_text="Rows in the CSV.")),
                ("processed", models.PositiveIntegerField(default=0)),
                ("created_count", models.PositiveIntegerField(default=0, verbose_name="created")),
                ("updated_count", models.PositiveIntegerField(default=0, verbose_name="updated")),
                ("unchanged_count", models.PositiveIntegerField(default=0, verbose_name="unchanged")),
                ("skipped_count", models.PositiveIntegerField(default=0, verbose_name="skipped")),
                ("errors", models.JSONField(blank=True, default=list)),
                (
                    "message",
                    models.TextField(blank=True, help_text="Why the job failed, or a note about its files."),
                ),
                ("created", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "product import", "ordering": ["-id"]},
        ),
    ]
