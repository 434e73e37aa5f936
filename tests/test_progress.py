"""The one progress bar: quiet for quick work and when turned off, a bar on the stream otherwise."""
import io
import time

from superexplain._progress import ProgressBar


def test_quick_work_draws_nothing():
    stream = io.StringIO()
    with ProgressBar(3, "quick", stream=stream, delay=10.0) as bar:
        for _ in range(3):
            bar.update()
    assert stream.getvalue() == ""


def test_slow_work_draws_a_bar_ending_at_the_total():
    stream = io.StringIO()
    with ProgressBar(2, "slow", stream=stream, delay=0.0) as bar:
        bar.update()
        time.sleep(0.15)
        bar.update()
    text = stream.getvalue()
    assert "slow [" in text and "2/2" in text and text.endswith("\n")


def test_disabled_bar_draws_nothing_even_when_slow():
    stream = io.StringIO()
    with ProgressBar(2, "off", enabled=False, stream=stream, delay=0.0) as bar:
        bar.update(2)
    assert stream.getvalue() == ""


def test_the_final_state_is_drawn_once():
    stream = io.StringIO()
    with ProgressBar(2, "once", stream=stream, delay=0.0) as bar:
        bar.update(2)
    assert stream.getvalue().count("2/2") == 1


def test_eta_leaves_out_resumed_items_and_the_slow_start(monkeypatch):
    import superexplain._progress as progress_module

    clock = {"now": 0.0}
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: clock["now"])
    stream = io.StringIO()
    bar = ProgressBar(100, "run", stream=stream, delay=0.0)
    bar.skip(50)  # a resumed run: half was done before
    clock["now"] = 20.0  # a cluster starting: nothing finished yet
    assert bar.remaining() is None
    bar._draw(clock["now"])
    assert stream.getvalue().endswith("50/100 20.0s<?")
    clock["now"] = 30.0
    bar.update(5)  # the first unit, 30 s after the start (start-up included): 6 s an item
    assert bar.remaining() == 45 * 6.0
    clock["now"] = 35.0
    bar.update(5)  # the next unit takes 5 s for 5 items: from now on 1 s an item
    assert bar.remaining() == 40.0
    assert "60/100 35.0s<40.0s" in stream.getvalue()
