"""JSON logs for every process and every library in it, so events can be followed by event and ticket id.

One pipeline (structlog's stdlib integration): the bot's structlog calls and every stdlib logger (Celery,
kombu, gunicorn, Flask, urllib3...) end in the root logger's one handler, whose `ProcessorFormatter`
renders a JSON object per line with timestamp, level, logger, the bound context (event id, desk, ticket)
and, for errors, the traceback as structured frames. With `SENTRY_DSN` set and `sentry-sdk` installed
(`pip install 'helpdesk-bot[sentry]'`), errors also go to Sentry (its logging, Flask and Celery
integrations switch themselves on).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import Processor

SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
"""What every line gets, whether it was logged through structlog or a library's stdlib logger."""


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the root handler; also named by gunicorn's logging config (`gunicorn_logconfig`)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED, structlog.stdlib.PositionalArgumentsFormatter()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks as structured frames, without local variables: a frame's locals can hold a token.
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_logging(level: str = "INFO") -> None:
    """Route all logging of this process through one JSON handler on stderr, at `level`."""
    level = level.upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning (e.g. Celery's about running as root) is a log line too
    structlog.configure(
        processors=[
            *SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    init_sentry()


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access logs in the same JSON lines as everything else."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "bot.logs.json_formatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            # No line per request: intake answers in well under a millisecond, and /metrics counts requests.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def init_sentry() -> bool:
    """Report errors to Sentry when SENTRY_DSN is set; False (and a warning if set) when it cannot."""
    from bot.config import get_settings

    settings = get_settings()
    if settings.sentry_dsn is None or not settings.sentry_dsn.get_secret_value():
        return False
    dsn = settings.sentry_dsn.get_secret_value()
    try:
        import sentry_sdk
    except ImportError:
        structlog.get_logger(__name__).warning(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install 'helpdesk-bot[sentry]'"
        )
        return False
    sentry_sdk.init(dsn=dsn, environment=settings.sentry_environment, send_default_pii=False)
    return True
