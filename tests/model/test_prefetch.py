"""model.prefetch: results in item order whatever the threads do, errors raised where results are taken."""

import random
import threading
import time

import pytest

from model.prefetch import prefetched


def slow_square(item):
    time.sleep(random.Random(item).uniform(0, 0.01))  # later items often finish first
    return item * item


@pytest.mark.parametrize("workers", [0, 1, 4])
def test_results_come_in_item_order(workers):
    assert list(prefetched(range(40), slow_square, workers=workers, depth=8)) == [i * i for i in range(40)]


def test_work_runs_ahead_of_the_consumer():
    started = []
    ahead = threading.Event()

    def work(item):
        started.append(item)
        if len(started) >= 3:
            ahead.set()
        return item

    stream = prefetched(range(10), work, workers=1, depth=3)
    assert next(stream) == 0
    assert ahead.wait(5)  # items 1 and 2 started before anyone asked for them
    stream.close()


def test_one_worker_runs_items_one_after_the_other_in_order():
    """model.train relies on this: its work advances a shared reader."""
    seen, running = [], []

    def work(item):
        running.append(item)
        assert len(running) == 1, "two items at once"
        time.sleep(0.002)
        seen.append(item)
        running.pop()
        return item

    assert list(prefetched(range(20), work, workers=1, depth=5)) == list(range(20))
    assert seen == list(range(20))


def test_an_error_is_raised_where_its_result_is_taken():
    def work(item):
        if item == 3:
            raise ValueError("bad item 3")
        return item

    stream = prefetched(range(10), work, workers=2, depth=4)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad item 3"):
        next(stream)


def test_closing_early_stops_the_work():
    done = []

    def work(item):
        time.sleep(0.005)
        done.append(item)
        return item

    stream = prefetched(range(1000), work, workers=2, depth=4)
    next(stream)
    stream.close()
    finished = len(done)
    time.sleep(0.05)
    assert len(done) == finished < 10  # nothing runs after close, and only a few items ran ahead
