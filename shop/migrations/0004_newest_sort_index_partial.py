"""PostgreSQL only: the "newest" index covers only active products (every storefront query
filters on is_active), so a page's ids come from an index-only scan, even deep pages."""

from django.db import migrations

from shop.db import postgresql_only

CREATE = [
    "DROP INDEX IF EXISTS product_newest",
    "CREATE INDEX IF NOT EXISTS product_newest_active ON shop_product (year DESC NULLS LAST, id DESC) WHERE is_active",
]
DROP = [
    "DROP INDEX IF EXISTS product_newest_active",
    "CREATE INDEX IF NOT EXISTS product_newest ON shop_product (year DESC NULLS LAST, id DESC)",
]


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_newest_sort_index")]
    operations = [migrations.RunPython(postgresql_only(CREATE), postgresql_only(DROP))]
