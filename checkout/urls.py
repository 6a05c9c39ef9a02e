from django.urls import path

import orders.converters  # noqa: F401  (registers <order_number:…>)
from checkout import views

app_name = "checkout"

urlpatterns = [
    path("", views.details, name="details"),
    path("shipping/", views.shipping, name="shipping"),
    path("review/", views.review, name="review"),
    path("orders/<order_number:number>/pay/", views.payment, name="payment"),
    path("orders/<order_number:number>/thanks/", views.thanks, name="thanks"),
    path("orders/<order_number:number>/payment-failed/", views.payment_failed, name="payment_failed"),
]
