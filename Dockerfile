FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=callcenter.settings.production
WORKDIR /app

COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Settings need these to import; the real values come from the environment at run time.
RUN SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost \
    ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput -v 0 \
    && useradd --system --no-create-home app \
    && mkdir -p /app/media/imports && chown app /app/media/imports
USER app
EXPOSE 8000 8001
# Workers, threads, timeouts: gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_THREADS, ...). The
# desk's live stream runs from the same image under uvicorn on 8001 (docker-compose.yml's
# `stream` service).
CMD ["gunicorn", "-c", "gunicorn.conf.py", "callcenter.wsgi:application"]
