"""PostgreSQL only: an index in the default "newest" sort order (year DESC NULLS LAST, id
DESC), so the first catalogue pages come straight from it. SQLite cannot index NULLS LAST."""

from django.db import migrations

from shop.db import postgresql_only

CREATE = ["CREATE INDEX IF NOT EXISTS product_newest ON shop_product (year DESC NULLS LAST, id DESC)"]
DROP = ["DROP INDEX IF EXISTS product_newest"]



class Migration(migrations.Migration):
    dependencies = [("shop", "0002_name_search_trigram")]
    operations = [migrations.RunPython(postgresql_only(CREATE), postgresql_only(DROP))]
