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
