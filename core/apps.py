from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Pieces every app may use and none owns: image decoding, the application error base,
    template hooks. Depends on no other app of the project."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.conf import settings

        from core import images

        images.configure(max_pixels=settings.MAX_IMAGE_PIXELS)
