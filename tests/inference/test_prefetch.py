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


def test_the_next_item_is_computed_while_the_caller_works() -> None:
    """The caller sleeps on each result; fn sleeps as long: overlapped, n items take
    about n + 1 sleeps instead of 2n."""
    dt, n = 0.05, 8

    def slow(x: int) -> int:
        time.sleep(dt)
        return x

    t0 = time.perf_counter()
    for _ in prefetched(slow, range(n)):
        time.sleep(dt)
    assert time.perf_counter() - t0 < (2 * n - 2) * dt
    assert threading.active_count() < 50  # the pool is gone, no thread leak


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
