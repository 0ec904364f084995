"""prefetched: map() with the next item computed in the background, in order, exceptions
where map would raise them, never more than two results alive."""

from __future__ import annotations

import threading
import time

import pytest

from e2e_coffea.inference.prefetch import prefetched


@pytest.mark.parametrize("ahead", [True, False])
def test_same_results_in_the_same_order_as_map(ahead: bool) -> None:
    items = list(range(23))
    assert list(prefetched(lambda x: x * x, items, ahead=ahead)) == [x * x for x in items]
    assert list(prefetched(lambda x: x, [], ahead=ahead)) == []


@pytest.mark.parametrize("ahead", [True, False])
def test_the_next_item_is_computed_while_the_caller_works(ahead: bool) -> None:
    """While the caller holds item k, fn(k + 1) starts in the background thread, without
    the caller asking for it; plain map (``ahead=False``) starts it only when asked."""
    n = 8
    started = [threading.Event() for _ in range(n)]
    threads: list[str] = []

    def fn(x: int) -> int:
        threads.append(threading.current_thread().name)
        started[x].set()
        return x

    before = threading.active_count()
    for x in prefetched(fn, range(n), ahead=ahead):
        if x + 1 < n:  # a generous wait: it only runs out when nothing is computed ahead
            assert started[x + 1].wait(timeout=5 if ahead else 0) is ahead
    assert all(t.startswith("e2e-prefetch") for t in threads) is ahead
    assert threading.active_count() <= before  # the pool is gone, no thread leak


def test_at_most_two_results_alive() -> None:
    alive, peak, lock = 0, 0, threading.Lock()

    class Held:
        def __init__(self) -> None:
            nonlocal alive, peak
            with lock:
                alive += 1
                peak = max(peak, alive)

        def __del__(self) -> None:
            nonlocal alive
            with lock:
                alive -= 1

    for h in prefetched(lambda _: Held(), range(20)):
        time.sleep(0.002)
        del h
    assert peak <= 2


def test_an_error_comes_out_in_order() -> None:
    def fn(x: int) -> int:
        if x == 3:
            msg = "bad hit in event 3"
            raise ValueError(msg)
        return x

    got: list[int] = []
    with pytest.raises(ValueError, match="event 3"):
        got.extend(prefetched(fn, range(6)))
    assert got == [0, 1, 2]
