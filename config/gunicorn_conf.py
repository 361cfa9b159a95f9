"""gunicorn settings for `make start` and production: `gunicorn -c python:config.gunicorn_conf`.

Threaded workers (gthread): a client that sends its request a byte at a time
holds one thread, not a whole process, so /healthz and the webhooks keep
answering while a few slow clients drip. Timeouts bound how long a stuck worker
or an idle kept-alive connection may hold on. Behind a reverse proxy that
buffers whole requests (nginx's default), slow clients never reach gunicorn at
all: see docs/resilience.md.

Every value can be overridden on the command line (`--workers 4`) or with
`GUNICORN_CMD_ARGS`.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))
timeout = 30
"""A worker silent this long is killed and replaced."""
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
logger_class = "config.gunicorn_logging.MaskedAccessLogger"
"""Access logs name the mainland push routes without their secret path segment."""
