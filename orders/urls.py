from django.urls import path

import orders.converters  # noqa: F401  (registers <order_number:…>)
from core.ratelimit import ratelimit
from orders import views

app_name = "orders"

urlpatterns = [
    # Looking up is limited per client (RATELIMITS["order_lookup"]): nobody guesses e-mails.
    path("orders/lookup/", ratelimit("order_lookup")(views.order_lookup), name="lookup"),
    path("orders/lookup/<order_number:number>/", views.order_lookup_detail, name="lookup_detail"),
    path("returns/", views.returns, name="returns"),
]
