"""The model stage two tasks share, taken in the order the run handed out tickets."""

from __future__ import annotations

import threading
import time

from wanflow.backends.turns import Turns


def _task(turns: Turns, ticket: int | None, entered: list[int | None], *, use_stage: bool = True) -> threading.Thread:
    def work() -> None:
        with turns.holding(ticket):
            if use_stage:
                with turns.stage():
                    entered.append(ticket)
                    time.sleep(0.02)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_tasks_that_arrive_out_of_order_enter_in_ticket_order() -> None:
    turns, entered = Turns(), []
    tickets = [turns.ticket() for _ in range(4)]
    threads = [_task(turns, ticket, entered) for ticket in reversed(tickets)]  # the last ticket arrives first
    for thread in threads:
        thread.join(5)
    assert entered == tickets


def test_a_task_that_never_uses_the_stage_lets_the_next_one_in() -> None:
    turns, entered = Turns(), []
    first, second, third = (turns.ticket() for _ in range(3))
    waiting = _task(turns, third, entered)
    cached = _task(turns, second, entered, use_stage=False)  # its latents were cached: it passes on leaving
    time.sleep(0.1)
    assert entered == []  # the first ticket's task has not come yet
    turns.passed(first)  # it ended without running (the run's dispatcher passes it)
    for thread in (waiting, cached):
        thread.join(5)
    assert entered == [third]


def test_leaving_early_passes_the_turn_while_the_task_goes_on() -> None:
    turns, entered = Turns(), []
    first, second = turns.ticket(), turns.ticket()
    left, finish = threading.Event(), threading.Event()

    def decoding_take() -> None:
        with turns.holding(first):
            turns.leave()  # nothing to generate: on to the decode
            left.set()
            finish.wait(5)

    thread = threading.Thread(target=decoding_take)
    thread.start()
    left.wait(5)
    _task(turns, second, entered).join(5)
    assert entered == [second]  # entered while the first task still ran
    finish.set()
    thread.join(5)


def test_one_task_at_a_time_in_the_stage_whatever_the_tickets() -> None:
    turns, inside, most = Turns(), [0], [0]
    lock = threading.Lock()

    def work(ticket: int | None) -> None:
        with turns.holding(ticket), turns.stage():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= 1

    first = turns.ticket()
    turns.passed(first)  # a retried task comes back with a ticket already passed
    threads = [threading.Thread(target=work, args=(ticket,)) for ticket in (None, first, None, turns.ticket())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert most[0] == 1
