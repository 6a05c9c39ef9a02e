"""PostgreSQL only: the catalogue's full-text search vector, a stored generated column that
PostgreSQL keeps up to date on every insert and update (admin, import, bulk_create, raw SQL):
name weighted A, article type B, colour and sub category C, gender D, stemmed with the
'english' configuration, with a GIN index. The typo fallback's similarity() comes from
pg_trgm (created since 0002). The column is not a model field: SQLite, the embedded default,
has no tsvector and searches by word starts instead (shop/selectors.py)."""

from django.db import migrations

from shop.db import postgresql_only

VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(article_type, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, "
    "coalesce(base_colour, '') || ' ' || coalesce(sub_category, '')), 'C') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(gender, '')), 'D')"
)

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"ALTER TABLE shop_product ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS ({VECTOR}) STORED",
    "CREATE INDEX IF NOT EXISTS shop_product_search_vector ON shop_product USING gin (search_vector)",
]
DROP = [
    "DROP INDEX IF EXISTS shop_product_search_vector",
    "ALTER TABLE shop_product DROP COLUMN IF EXISTS search_vector",
]


class Migration(migrations.Migration):
    dependencies = [("shop", "0006_product_variant")]
    operations = [migrations.RunPython(postgresql_only(CREATE), postgresql_only(DROP))]
