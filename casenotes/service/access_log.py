"""Access logs without query strings. uvicorn's access log prints each request's path with its
query, and a query can hold a phrase of a note or a client's name (`GET /v1/search?q=…`, the
review pages' filters), so the filter here keeps the path and drops the query.

`casenotes serve` passes `log_config()` to uvicorn (which hands it to every worker process);
`casenotes/service/main.py` also calls `install()`, for a server started as `uvicorn casenotes.service.main:app`.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

__all__ = ["ACCESS_LOGGER", "WithoutQueryString", "install", "log_config"]

ACCESS_LOGGER = "uvicorn.access"


class WithoutQueryString(logging.Filter):
    """Cuts the query string from the path of uvicorn's access records, which are logged as
    `'%s - "%s %s HTTP/%s" %d'` with (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger, once."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, WithoutQueryString) for f in logger.filters):
        logger.addFilter(WithoutQueryString())


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on its access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["without_query_string"] = {"()": f"{__name__}.WithoutQueryString"}
    config["loggers"][ACCESS_LOGGER]["filters"] = ["without_query_string"]
    # httpx logs each webhook delivery's URL at INFO; a receiver's query string may carry a token.
    config["loggers"]["httpx"] = {"level": "WARNING"}
    return config
