"""PostgreSQL only: a trigram index so that name searches (case-insensitive regex on word
starts) use an index. SQLite, the embedded default, scans instead."""

from django.db import migrations

from shop.db import postgresql_only

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS shop_product_name_trgm ON shop_product USING gin (name gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS shop_product_name_trgm"]



class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [migrations.RunPython(postgresql_only(CREATE), postgresql_only(DROP))]
