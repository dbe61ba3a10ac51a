"""The cyclic garbage collector paused while a burst of long-lived objects is built."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off for a while (as it was, after). Loading a cassette or starting the server builds objects
    by the hundred thousand and frees none: the collector would walk the growing heap again and again for nothing
    (a third of a large load's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
