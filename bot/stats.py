"""What `stats` reports: the shipped model's card (from metrics.json) and live counters since start."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RECENT_TIMINGS = 1000  # the median covers the latest pictures, so a long-running bot stays light


@dataclass(frozen=True)
class ModelCard:
    name: str
    test_accuracy: float
    per_digit_accuracy: dict[int, float]
    parameter_count: int
    trained_on: str  # ISO date
    test_examples: int
    confusion_matrix_png: bytes | None  # read once at start, not on the event loop at every `stats`

    @classmethod
    def for_model(cls, model_path: Path) -> ModelCard | None:
        """The card of the model at `model_path`, from the metrics.json beside it; None when there is none."""
        metrics_path = Path(model_path).parent / "metrics.json"
        try:
            metrics = json.loads(metrics_path.read_text())
            confusion_png = metrics_path.parent / "confusion_matrix.png"
            picture = confusion_png.read_bytes() if confusion_png.is_file() else None
            return cls(
                name=str(metrics["architecture"]),
                test_accuracy=float(metrics["test_accuracy"]),
                per_digit_accuracy={int(digit): float(value) for digit, value in metrics["per_digit_accuracy"].items()},
                parameter_count=int(metrics["parameter_count"]),
                trained_on=str(metrics["date"])[:10],
                test_examples=sum(map(sum, metrics["confusion_matrix"])),
                confusion_matrix_png=picture,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


class LiveStats:
    """Pictures read and time per picture since start; safe to update from worker threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._pictures_read = 0
        self._recent_ms: deque[float] = deque(maxlen=RECENT_TIMINGS)

    def record(self, milliseconds: float) -> None:
        with self._lock:
            self._pictures_read += 1
            self._recent_ms.append(milliseconds)

    @property
    def pictures_read(self) -> int:
        return self._pictures_read

    @property
    def median_ms(self) -> float | None:
        with self._lock:
            return statistics.median(self._recent_ms) if self._recent_ms else None

    @property
    def uptime_seconds(self) -> float:
        return self._clock() - self._started
