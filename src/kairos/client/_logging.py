"""``KAIROS_LOG=debug|info``: log the client's work to stderr, secrets redacted.

The ``kairos`` logger gets a handler (once) whose filter passes every message through
:func:`kairos.errors.redact`, so no API key or ``Authorization`` value reaches the log even
if a server or proxy echoes one.
"""

from __future__ import annotations

import logging
import os

from kairos.errors import redact

__all__ = ["RedactingFilter", "configure_from_env"]

_FORMAT = "[%(asctime)s - %(name)s:%(lineno)d - %(levelname)s] %(message)s"
_configured = False


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def configure_from_env() -> None:
    """Apply ``KAIROS_LOG`` (``debug`` or ``info``); other values leave logging alone."""
    global _configured
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(
        os.environ.get("KAIROS_LOG", "").strip().lower()
    )
    if level is None or _configured:
        return
    _configured = True
    logger = logging.getLogger("kairos")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level)
