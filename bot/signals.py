"""Stopping on SIGTERM and SIGINT: shared by `shiplog run`, `shiplog web` and `shiplog playground`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_signals(on_signal: Callable[[signal.Signals], None]) -> Iterator[None]:
    """Call `on_signal` on SIGTERM or SIGINT, through the event loop.

    A handler the process installs itself works as PID 1 in a container too, where the kernel
    ignores signals left to their default action (so `docker stop` would otherwise wait out its
    grace period and kill the process).
    """
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[signal.Signals]]:
    """Note SIGTERM and SIGINT instead of dying of them, for a step that must not be cut (a migration).

    As PID 1 a signal with no handler would be dropped, and `docker stop` would wait out its grace.
    """
    received: list[signal.Signals] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: received.append(signal.Signals(number))) for sig in STOP_SIGNALS
    }
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
