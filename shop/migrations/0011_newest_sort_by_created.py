"""PostgreSQL only: "Newest" sorts by when a product was added (``created``), no longer by the
catalogue's ``year``: the partial index of the "newest" order follows (active products,
created DESC, id DESC), so the first catalogue pages still come straight from it."""

from django.db import migrations

from shop.db import postgresql_only

CREATE = [
    "DROP INDEX IF EXISTS product_newest_active",
    "CREATE INDEX IF NOT EXISTS product_newest_created_active ON shop_product (created DESC, id DESC) WHERE is_active",
]
DROP = [
    "DROP INDEX IF EXISTS product_newest_created_active",
    "CREATE INDEX IF NOT EXISTS product_newest_active ON shop_product (year DESC NULLS LAST, id DESC) WHERE is_active",
]


class Migration(migrations.Migration):
    dependencies = [("shop", "0010_product_compare_at_price")]
    operations = [migrations.RunPython(postgresql_only(CREATE), postgresql_only(DROP))]
