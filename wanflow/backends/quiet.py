"""Third-party chatter that tells a wanflow user nothing, silenced at its source and no further."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class _TorchvisionFallback(logging.Filter):
    """transformers warns that CLIPImageProcessor falls back to Pillow without torchvision.

    diffusers imports that class for Wan's optional image encoder, which Wan2.2 does not use,
    so the warning only alarms. Every other transformers warning still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


def silence_torchvision_fallback() -> None:
    logging.getLogger("transformers.utils.import_utils").addFilter(_TorchvisionFallback())


@contextmanager
def quiet_progress_bars(quiet: bool = True) -> Iterator[None]:
    """No per-component bars for tiny models (kilobytes); real weights keep theirs."""
    if not quiet:
        yield
        return
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    diffusers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.enable_progress_bar()
        diffusers_logging.enable_progress_bar()
