"""The admin's product form: the uploaded image must really be an image we can use."""

from __future__ import annotations

from django import forms

from core.images import ImageRejected
from shop.models import Product
from shop.thumbnails import image_validate


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = (
            "name",
            "external_id",
            "price",
            "is_active",
            "image",
            "gender",
            "master_category",
            "sub_category",
            "article_type",
            "base_colour",
            "season",
            "year",
            "usage",
        )

    def clean_image(self):
        image = self.cleaned_data.get("image")
        upload = self.files.get("image")
        if upload is not None:
            upload.seek(0)
            try:
                image_validate(upload.read())
            except ImageRejected as exc:
                raise forms.ValidationError(str(exc)) from None
            finally:
                upload.seek(0)
        return image
