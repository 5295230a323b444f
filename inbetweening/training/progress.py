"""Training progress: the train step's metrics summed on the devices over a logging window
and checked finite there at every step, fetched only when the loop logs, samples or saves;
the progress log line."""

import functools
import time

import jax
import jax.numpy as jnp
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


@functools.partial(jax.jit, static_argnames="names")
def _start_totals(metrics: dict, step_before: jax.Array, names: tuple[str, ...]) -> dict:
    """Totals before the first step of a window: zero sums, every step so far finite.
    Values are vectors [len(names)] in the order of `names` (few arrays: each output of
    a jitted call costs the host microseconds)."""
    zeros = jnp.zeros(len(names), jnp.float32)
    return {
        "sums": zeros,
        "count": jnp.zeros((), jnp.int32),
        "step": step_before.astype(jnp.int32),
        "last": zeros,
        "all_finite": jnp.ones((), bool),
        "non_finite_step": jnp.zeros((), jnp.int32),
        "non_finite_values": zeros,
    }


@functools.partial(jax.jit, static_argnames="names")
def _accumulate(totals: dict, metrics: dict, names: tuple[str, ...]) -> dict:
    """totals after the steps of `metrics` (each value a scalar, or a vector [K] for K
    steps in order): their values added, and where one is the first step with a
    non-finite value, that step and its values kept."""
    values = jnp.stack(
        [jnp.atleast_1d(metrics[name]).astype(jnp.float32) for name in names], axis=-1
    )  # [K, len(names)]
    finite_steps = jnp.all(jnp.isfinite(values), axis=1)
    first_non_finite = totals["all_finite"] & ~jnp.all(finite_steps)
    bad = jnp.argmin(finite_steps)  # the first non-finite step's row, where there is one
    return {
        "sums": totals["sums"] + jnp.sum(values, axis=0),
        "count": totals["count"] + len(values),
        "step": totals["step"] + len(values),
        "last": values[-1],
        "all_finite": totals["all_finite"] & ~first_non_finite,
        "non_finite_step": jnp.where(
            first_non_finite, totals["step"] + 1 + bad, totals["non_finite_step"]
        ),
        "non_finite_values": jnp.where(first_non_finite, values[bad], totals["non_finite_values"]),
    }


@jax.jit
def _restart_window(totals: dict) -> dict:
    return {
        **totals,
        "sums": jnp.zeros_like(totals["sums"]),
        "count": jnp.zeros_like(totals["count"]),
    }


class MetricsWindow:
    """The train step's metrics over a logging window, kept on the devices: each step adds
    its values to on-device sums and an "every step finite so far" flag (with the first
    step that was not), one small jitted call that the host only dispatches, so the steps
    stay queued on the devices. The host fetches the totals at `check` and
    `mean_and_reset` only, and raises there if any step since the start was not finite.

    `add` takes consecutive steps.
    """

    def __init__(self):
        self._totals: dict | None = None
        self._names: tuple[str, ...] = ()  # the step's metrics in its own order
        self._next_step: int | None = None
        self.last: dict[str, float] | None = None  # the latest checked step's values
        self._window_started = time.perf_counter()

    def add(self, step: int, metrics: dict) -> None:
        """Adds the metrics (device arrays) of `step`, or of the K steps from `step` on when
        each is a vector [K], on the devices; fetches nothing."""
        if self._totals is None:
            self._names = tuple(metrics)
            self._totals = _start_totals(metrics, np.int32(step - 1), self._names)
        elif step != self._next_step:
            raise ValueError(f"MetricsWindow.add: step {step} after step {self._next_step - 1}")
        self._next_step = step + np.size(metrics[self._names[0]])
        self._totals = _accumulate(self._totals, metrics, self._names)

    def _fetch(self) -> dict | None:
        """The totals on the host, checked: raises NonFiniteLossError naming the first
        step that was not finite, and its first non-finite metric."""
        if self._totals is None:
            return None
        totals = jax.device_get(self._totals)
        if not totals["all_finite"]:
            check_finite(int(totals["non_finite_step"]), self._named(totals["non_finite_values"]))
        self.last = self._named(totals["last"])
        return totals

    def _named(self, values: np.ndarray) -> dict[str, float]:
        return {name: float(value) for name, value in zip(self._names, values)}

    def check(self) -> None:
        """Waits for the steps added so far and checks that each was finite. Raises
        NonFiniteLossError."""
        self._fetch()

    def mean_and_reset(self) -> dict[str, float]:
        """Each metric's mean over the steps since the last call, and steps_per_second
        (checked as `check`)."""
        totals = self._fetch()
        now = time.perf_counter()
        count = int(totals["count"])
        means = {name: total / count for name, total in self._named(totals["sums"]).items()}
        means["steps_per_second"] = count / (now - self._window_started)
        self._totals = _restart_window(self._totals)
        self._window_started = now
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
