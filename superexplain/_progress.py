"""The one progress-bar helper: a text bar on stderr that ``verbose=0`` turns off."""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "progress"]


class ProgressBar:
    """A minimal progress bar written to a stream (stderr by default), redrawn in place.

    It draws only when the work takes longer than ``delay`` seconds, so quick calls stay quiet.
    """

    def __init__(self, total: int, desc: str = "", enabled: bool = True, stream: TextIO | None = None,
                 delay: float = 0.5, width: int = 30) -> None:
        self.total = max(int(total), 0)
        self.desc = desc
        self.enabled = bool(enabled)
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.width = width
        self.count = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False
        self._drawn_count = -1
        self._skipped = 0
        self._first: tuple[float, int] | None = None  # (time, count) when this session's first item finished

    def skip(self, n: int) -> None:
        """Count ``n`` items done earlier (a resumed run): they fill the bar but are left out of the rate."""
        self.count += n
        self._skipped += n

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.perf_counter()
        if self._first is None and n > 0:
            self._first = (now, self.count)
        if not self.enabled:
            return
        if now - self._start < self.delay:  # quick work stays quiet, finished or not
            return
        if now - self._last_draw < 0.1 and self.count < self.total:
            return
        self._last_draw = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self._start
        if self.total:
            filled = int(self.width * min(self.count, self.total) / self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            remaining = self.remaining(now)
            eta = "?" if remaining is None else f"{remaining:.1f}s"
            text = f"\r{self.desc} [{bar}] {self.count}/{self.total} {elapsed:.1f}s<{eta}"
        else:
            text = f"\r{self.desc} {self.count} {elapsed:.1f}s"
        self.stream.write(text)
        self.stream.flush()
        self._drawn = True
        self._drawn_count = self.count

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left, estimated from this session's items only; None before the first one is done.

        Until a second batch of items is done the rate is the first batch's (start-up included);
        from then on it is measured from the moment the first batch finished, so a slow start (a
        cluster starting, kernels compiling) does not weigh on the estimate for ever.
        """
        now = time.perf_counter() if now is None else now
        if self._first is None:
            return None
        first_time, first_count = self._first
        if self.count > first_count and now > first_time:
            rate = (self.count - first_count) / (now - first_time)
        else:
            done = first_count - self._skipped
            rate = done / (first_time - self._start) if first_time > self._start and done > 0 else 0.0
        return max(self.total - self.count, 0) / rate if rate > 0 else None

    def close(self) -> None:
        if self.enabled and self._drawn:
            if self._drawn_count != self.count:  # the final state was not shown yet
                self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int, desc: str = "", verbose: int | bool = 1) -> ProgressBar:
    """A :class:`ProgressBar` that draws when ``verbose`` is truthy."""
    return ProgressBar(total, desc=desc, enabled=bool(verbose))
