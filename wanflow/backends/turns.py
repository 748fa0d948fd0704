"""The model stage of a pool that two tasks share, taken in the order the run submitted them.

An in-process run on the tiny models works on two takes at once, so that one decodes while the
next generates. Only one may use the model stage (encoding prompts, generating latents) at a
time, and in the run's generation order: two threads racing for a plain lock could take it in
either order, and a generator loaded out of turn is loaded twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    """A lock taken in ticket order.

    The run hands each task a ticket as it submits it; a task enters the stage only once every
    earlier ticket has passed. A ticket passes when its task leaves the stage, or ends without
    entering it (its latents cached, it failed): no task waits on one that is gone. Work with no
    ticket (a Dask worker's, one task at a time) or a retried task just waits for the lock.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._issued = 0
        self._next = 0  # the first ticket not passed
        self._passed: set[int] = set()  # passed out of order, waiting for those before them
        self._busy = False
        self._held = threading.local()  # the ticket of the task this thread runs

    def ticket(self) -> int:
        with self._changed:
            self._issued += 1
            return self._issued - 1

    @contextmanager
    def holding(self, ticket: int | None) -> Iterator[None]:
        """While in the block this thread's work goes by `ticket`, which passes at the end."""
        self._held.ticket = ticket
        try:
            yield
        finally:
            self._held.ticket = None
            if ticket is not None:
                self.passed(ticket)

    @contextmanager
    def stage(self) -> Iterator[None]:
        """The stage itself, for this thread's ticket (passed on the way out)."""
        ticket = getattr(self._held, "ticket", None)
        with self._changed:
            self._changed.wait_for(lambda: not self._busy and (ticket is None or ticket <= self._next))
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                if ticket is not None:
                    self._pass(ticket)
                self._changed.notify_all()

    def leave(self) -> None:
        """This thread's task needs the stage no more (its latents were cached): the next may go."""
        ticket = getattr(self._held, "ticket", None)
        if ticket is not None:
            self.passed(ticket)

    def passed(self, ticket: int) -> None:
        with self._changed:
            self._pass(ticket)
            self._changed.notify_all()

    def _pass(self, ticket: int) -> None:
        if ticket < self._next:
            return
        self._passed.add(ticket)
        while self._next in self._passed:
            self._passed.discard(self._next)
            self._next += 1
