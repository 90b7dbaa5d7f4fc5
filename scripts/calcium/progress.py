"""Progress of long jobs in their logs: work done, percent, elapsed and estimated time left.

A job that can run for minutes (deconvolution of 10^4 neurons, the NWB file, the coactivity
null) says how far it is at least every `every_s` seconds (default 10 s), so that
`tail -f results/logs/<session>/<rule>.log` shows it moving:

    2026-12-06 06:01:10 INFO deconvolve: 12/40 blocks (30%), 31 s elapsed, ~72 s left

`Progress.advance` logs when `every_s` has passed since the last line (and always at the
end); while no unit of work finishes (one long block), a heartbeat thread repeats the last
state every `every_s` seconds so that silence in a log means the job has stopped. The
estimate of time left is linear in the work done (elapsed x remaining / done). The clock is
injectable (tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

EVERY_S = 10.0


def duration_text(seconds: float) -> str:
    """`seconds` as "42 s", "3 min 5 s" or "2 h 04 min"."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Progress:
    """Count units of work (`what`, e.g. "blocks") of a task (`label`) and log how far it is.

    total: units of work in all; logger: where lines go (default the "calcium" logger that
    `calcium.logs.log_to` routes to the job's log); every_s: most seconds between lines;
    clock: seconds, monotonic (default time.monotonic; injectable for tests).
    Use as a context manager to run the heartbeat thread.
    """

    def __init__(
        self,
        total: int,
        label: str,
        what: str = "blocks",
        logger: logging.Logger | None = None,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = max(0, int(total))
        self.label = label
        self.what = what
        self.logger = logger or logging.getLogger("calcium")
        self.every_s = float(every_s)
        self.clock = clock
        self.done = 0
        self.start = clock()
        self.last_line_at = self.start
        self.lines: list[str] = []  # every line logged (tests, and the heartbeat's repeat)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def line(self) -> str:
        """The current state as one line."""
        elapsed = self.clock() - self.start
        percent = 100.0 * self.done / self.total if self.total else 100.0
        text = f"{self.label}: {self.done}/{self.total} {self.what} ({percent:.0f}%)"
        text += f", {duration_text(elapsed)} elapsed"
        if self.done >= self.total:
            return text + ", done"
        if self.done == 0:
            return text + ", time left not yet known"
        left = elapsed * (self.total - self.done) / self.done
        return text + f", ~{duration_text(left)} left"

    def _log(self) -> str:
        text = self.line()
        self.last_line_at = self.clock()
        self.lines.append(text)
        self.logger.info("%s", text)
        for handler in self.logger.handlers:
            handler.flush()
        return text

    def advance(self, units: int = 1) -> str | None:
        """Count `units` more done; log (and return) a line if `every_s` has passed since the
        last one or the work is complete."""
        with self._lock:
            self.done = min(self.total, self.done + int(units))
            if self.done >= self.total or self.clock() - self.last_line_at >= self.every_s:
                return self._log()
        return None

    def beat(self) -> str | None:
        """Log the current state if nothing was logged for `every_s` (the heartbeat's step)."""
        with self._lock:
            if self.done < self.total and self.clock() - self.last_line_at >= self.every_s:
                return self._log()
        return None

    def __enter__(self) -> Progress:
        with self._lock:
            self._log()  # the start: total work known
        self._stop.clear()
        self._thread = threading.Thread(target=self._heartbeat, name=f"progress {self.label}", daemon=True)
        self._thread.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(min(1.0, self.every_s / 4)):
            self.beat()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def track(
    items: Iterable, progress: Progress | None, units: Callable[[object], int] = lambda _: 1
) -> Iterator:
    """Yield `items`, advancing `progress` (if any) by units(item) after each."""
    for item in items:
        yield item
        if progress is not None:
            progress.advance(units(item))
