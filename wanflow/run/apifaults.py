"""A Prefect API that does not answer ends a run in one line that says what to do.

Before the flow: a server named by PREFECT_API_URL must answer its health check. During the
flow (the server killed, the network gone): Prefect logs the failure with a traceback and
raises from the flow call; the traceback is dropped from the log (`quiet_api_tracebacks`) and
the CLI prints `api_fault`'s line instead. The shots rendered so far are in the cache either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PREFECT_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def check_api(api_url: str | None, healthy: Callable[[str], bool]) -> None:
    """A running server named by PREFECT_API_URL answers before the flow starts (else one line, exit 1)."""
    if api_url and not healthy(api_url.rstrip("/")):
        raise RuntimeError(
            f"the Prefect API at {api_url} (PREFECT_API_URL) does not answer: start that server or correct "
            "the URL, or unset PREFECT_API_URL to let wanflow start a temporary one"
        )


def is_api_failure(error: BaseException | None) -> bool:
    """The error is, or was caused by, the Prefect API not answering."""
    import httpx

    seen, depth = error, 0
    while seen is not None and depth < 32:
        if isinstance(seen, httpx.TransportError) or (isinstance(seen, RuntimeError) and "reach API" in str(seen)):
            return True
        seen, depth = seen.__cause__ or seen.__context__, depth + 1
    return False


def api_fault(error: BaseException) -> str | None:
    """One line for a run that the Prefect API failed (unreachable, gone mid-run); None for other errors."""
    if not is_api_failure(error):
        return None
    from prefect.settings import PREFECT_API_URL

    return (
        f"the Prefect API at {PREFECT_API_URL.value()} stopped answering ({type(error).__name__}: {error}); "
        "the shots rendered so far are in the cache: start the server again (or unset PREFECT_API_URL) and run again"
    )


class _OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and is_api_failure(record.exc_info[1]):
            record.exc_info, record.exc_text = None, None  # the message keeps the error's one line
        return True


@contextmanager
def quiet_api_tracebacks() -> Iterator[None]:
    """Within the block, Prefect's run loggers log an API failure without its traceback."""
    one_line = _OneLine()
    loggers = [logging.getLogger(name) for name in PREFECT_LOGGERS]
    for logger in loggers:
        logger.addFilter(one_line)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(one_line)
