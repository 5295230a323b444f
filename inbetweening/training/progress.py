"""Training progress: each step's metrics checked finite, averaged over a logging window,
logged with the rate and the time left."""

import time

import jax
import numpy as np
from absl import logging

from inbetweening.training.reporting import Reporter


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stopped before writing anything more."""


def check_finite(step: int, metrics: dict[str, float]) -> None:
    for name, value in metrics.items():
        if not np.isfinite(value):
            raise NonFiniteLossError(
                f"training stopped at step {step}: {name} = {value}; nothing was written "
                "after the last finite step"
            )


class MetricsWindow:
    """The train step's metrics, fetched one step late (so the next step is queued on the
    devices meanwhile), each step's checked finite, averaged over a logging window."""

    def __init__(self):
        self._pending: tuple[int, dict] | None = None
        self._window: list[dict[str, float]] = []
        self.last: dict[str, float] | None = None  # the latest checked step's values
        self._window_started = time.perf_counter()

    def add(self, step: int, metrics: dict) -> None:
        """Checks the previous step's metrics, and keeps this step's for later."""
        self.check()
        self._pending = (step, metrics)

    def check(self) -> None:
        """Fetches and checks the pending step's metrics. Raises NonFiniteLossError."""
        if self._pending is None:
            return
        step, metrics = self._pending
        self._pending = None
        values = {k: float(v) for k, v in jax.device_get(metrics).items()}
        check_finite(step, values)
        self._window.append(values)
        self.last = values

    def mean_and_reset(self) -> dict[str, float]:
        """Each metric's mean over the steps since the last call, and steps_per_second."""
        self.check()
        now = time.perf_counter()
        means = {k: float(np.mean([v[k] for v in self._window])) for k in self._window[0]}
        means["steps_per_second"] = len(self._window) / (now - self._window_started)
        self._window, self._window_started = [], now
        return means


# The losses in the progress line, in this order, where the objective has them (the
# supervised diagnostic has no discriminator, so no d_loss).
LOGGED_LOSSES = ("d_loss", "g_loss", "l1_loss")


def log_progress(step: int, num_steps: int, means: dict[str, float], reporter: Reporter):
    reporter.scalars(step, means)
    rate = means["steps_per_second"]
    losses = "".join(f" {name} {means[name]:.4f}" for name in LOGGED_LOSSES if name in means)
    logging.info(
        "step %d/%d (%.0f%%)%s, %.2f steps/s, ETA %s",
        step,
        num_steps,
        100 * step / num_steps,
        losses,
        rate,
        _duration((num_steps - step) / rate),
    )


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"
