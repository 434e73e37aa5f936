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

    def update(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        now = time.perf_counter()
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
            rate = self.count / elapsed if elapsed > 0 else 0.0
            remaining = (self.total - self.count) / rate if rate > 0 else 0.0
            text = f"\r{self.desc} [{bar}] {self.count}/{self.total} {elapsed:.1f}s<{remaining:.1f}s"
        else:
            text = f"\r{self.desc} {self.count} {elapsed:.1f}s"
        self.stream.write(text)
        self.stream.flush()
        self._drawn = True
        self._drawn_count = self.count

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
