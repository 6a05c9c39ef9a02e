from django.urls import path

from checkout import views

app_name = "checkout"

urlpatterns = [
    path("", views.details, name="details"),
    path("shipping/", views.shipping, name="shipping"),
    path("review/", views.review, name="review"),
    path("orders/<str:number>/pay/", views.payment, name="payment"),
    path("orders/<str:number>/thanks/", views.thanks, name="thanks"),
    path("orders/<str:number>/payment-failed/", views.payment_failed, name="payment_failed"),
]
