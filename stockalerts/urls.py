from django.urls import path

from core.ratelimit import ratelimit
from stockalerts import views

app_name = "stockalerts"

urlpatterns = [
    # Each POST may queue an e-mail later: limited per client (RATELIMITS["stock_alerts"]).
    path("<int:product_id>/", ratelimit("stock_alerts")(views.notify), name="notify"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
