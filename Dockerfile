# One image for web (gunicorn), worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MARKETSYNC_VAR_DIR=/app/var \
    MEDIA_ROOT=/app/media

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are baked into the image (served by WhiteNoise). Settings refuse to load with DEBUG off and no
# keys, so collectstatic gets throw-away values that exist only during this build step.
RUN DEBUG=false \
    SECRET_KEY=collectstatic-only \
    FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput --verbosity 0 \
 && rm -f /app/var/field_encryption.key \
 && useradd --system --uid 10001 --home-dir /app marketsync \
 && mkdir -p /app/media \
 && chown -R marketsync /app/var /app/media

USER marketsync
EXPOSE 8000

CMD ["gunicorn", "marketsync.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
