"""How close the generated middle frames come to the real ones: best-of-N SSIM and PSNR.

Cheap enough to run during training (no I3D), and judged against two methods that need no
training: a cross-fade of the key frames, and the start frame repeated, then the end frame.
A model worth its training beats both. SSIM is the paper's (Table 3, `ssim.py`); PSNR is
10 log10(1 / MSE) in [0, 1] units. Both are means over the middle frames 1..T-2 of a
video, and each is the best of the N generations for the same key frames.
"""

from typing import Callable

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from inbetweening.eval.ssim import best_ssim, to_unit_range

METRICS = ("ssim", "psnr")


def cross_fade(start: np.ndarray, end: np.ndarray, num_frames: int) -> np.ndarray:
    """uint8 [N, H, W, C] key frames -> [N, T, H, W, C] linear blends."""
    weights = np.linspace(0.0, 1.0, num_frames)[None, :, None, None, None]
    blend = (1 - weights) * start[:, None].astype(np.float64) + weights * end[:, None]
    return np.round(blend).astype(np.uint8)


def repeat_key_frames(start: np.ndarray, end: np.ndarray, num_frames: int) -> np.ndarray:
    """[N, T, H, W, C]: the start frame for frames 0..T/2-1, the end frame after."""
    half = num_frames // 2
    return np.concatenate(
        [
            np.repeat(start[:, None], half, axis=1),
            np.repeat(end[:, None], num_frames - half, axis=1),
        ],
        axis=1,
    )


# Key in metric names (valid TensorBoard tags: "crossfade_ssim") -> (label in tables, method).
REFERENCES = {
    "crossfade": ("cross-fade", cross_fade),
    "repeat": ("repeat start, then end", repeat_key_frames),
}


@jax.jit
def best_psnr(generated: jax.Array, real: jax.Array) -> jax.Array:
    """generated [N, G, T, H, W, C], real [N, T, H, W, C] -> [N]: per example, the best
    over its G generations of the mean PSNR over the middle frames."""
    middle = slice(1, -1)
    a, b = jnp.broadcast_arrays(
        to_unit_range(generated[:, :, middle]), to_unit_range(real[:, None, middle])
    )
    # dm-pix takes a single batch axis.
    per_frame = dm_pix.psnr(a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])).reshape(
        a.shape[:-3]
    )
    return jnp.max(jnp.mean(per_frame, axis=-1), axis=1)


def best_of_n(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """uint8 generated [N, G, T, H, W, C] and real [N, T, H, W, C] -> {"ssim": mean over
    examples of the best SSIM, "psnr": the same for PSNR}."""
    return {
        "ssim": float(jnp.mean(best_ssim(generated, real))),
        "psnr": float(jnp.mean(best_psnr(generated, real))),
    }


def reference_scores(real: np.ndarray) -> dict[str, dict[str, float]]:
    """{reference key: best_of_n scores} on the key frames of real [N, T, H, W, C]."""
    start, end, num_frames = real[:, 0], real[:, -1], real.shape[1]
    return {
        key: best_of_n(method(start, end, num_frames)[:, None], real)
        for key, (_, method) in REFERENCES.items()
    }


# (start, end uint8 [N, H, W, C], number of samples, key) -> uint8 [N, S, T, H, W, C]
Sampler = Callable[[np.ndarray, np.ndarray, int, jax.Array], np.ndarray]


class MiddleFrameQuality:
    """Best-of-N SSIM and PSNR of a model's middle frames on fixed held-out videos, with
    the references beside them (computed once, at the first call).

    real: uint8 [N, T, H, W, C]; num_samples: the N of best-of-N.
    """

    def __init__(self, real: np.ndarray, num_samples: int):
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.real = real
        self.num_samples = num_samples
        self._references = None

    def __call__(self, sample: Sampler, key: jax.Array) -> dict[str, float]:
        """Flat metrics: "model_ssim", "model_psnr", "crossfade_ssim", ..."""
        if self._references is None:
            self._references = reference_scores(self.real)
        generated = sample(self.real[:, 0], self.real[:, -1], self.num_samples, key)
        scores = {"model": best_of_n(generated, self.real), **self._references}
        return {
            f"{name}_{metric}": value
            for name, values in scores.items()
            for metric, value in values.items()
        }

    def table(self, metrics: dict[str, float], extra_rows: dict[str, str] = None) -> str:
        """A Markdown table of the flat metrics that __call__ returned (and "unaveraged_"
        ones, from the weights themselves when the model samples with their average);
        extra_rows: {label: metric prefix} of more rows from `metrics`."""
        lines = [
            f"| method ({len(self.real)} held-out videos) | best-of-{self.num_samples} "
            "SSIM | best-of-N PSNR (dB) |",
            "|---|---|---|",
        ]
        labels = {"model": "model"}
        if "unaveraged_ssim" in metrics:
            labels = {"model": "model (weight average)", "unaveraged": "model (last weights)"}
        labels.update({key: label for key, (label, _) in REFERENCES.items()})
        labels.update({prefix: label for label, prefix in (extra_rows or {}).items()})
        for key, label in labels.items():
            lines.append(
                f"| {label} | {metrics[f'{key}_ssim']:.3f} | {metrics[f'{key}_psnr']:.2f} |"
            )
        return "\n".join(lines)

    def summary(self, metrics: dict[str, float]) -> str:
        """One line of the flat metrics: the model's, then the references'."""
        line = (
            f"best-of-{self.num_samples} SSIM {metrics['model_ssim']:.3f}, PSNR "
            f"{metrics['model_psnr']:.2f} dB"
        )
        if "unaveraged_ssim" in metrics:
            line += (
                f" (last weights {metrics['unaveraged_ssim']:.3f}, "
                f"{metrics['unaveraged_psnr']:.2f} dB)"
            )
        references = "; ".join(
            f"{label} {metrics[f'{key}_ssim']:.3f}, {metrics[f'{key}_psnr']:.2f} dB"
            for key, (label, _) in REFERENCES.items()
        )
        return f"{line}; {references}"
