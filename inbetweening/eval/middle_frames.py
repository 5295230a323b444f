"""How close the generated middle frames come to the real ones, and how much they vary.

Cheap enough to run during training (no I3D), and judged against three methods that need
no training: a cross-fade of the key frames, the start frame repeated, then the end frame,
and optical-flow interpolation (eval/flow_interpolation.py), the classical method a user
would pick instead. A model worth its training beats them. SSIM is the paper's (Table 3,
`ssim.py`); PSNR is 10 log10(1 / MSE) in [0, 1] units. A generation's score is the mean
over the middle frames 1..T-2 of its video; of the N generations for the same key frames,
- best-of-N is the best score (the paper's Table 3),
- best-of-1 the mean score: the expected score of one sample, with lower variance than
  the first sample's,
- the spread is the standard deviation over the N at each pixel of the middle frames
  (0..255), the mean over pixels: 0 for a model that ignores its noise.
Each is then a mean over the videos. The references are deterministic: best-of-1 is their
best-of-N, their spread 0.
"""

from typing import Callable

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from inbetweening.eval import chunks
from inbetweening.eval.flow_interpolation import flow_interpolation
from inbetweening.eval.ssim import ssim, to_unit_range

# A sampling method's metrics ("model_single_ssim", ...): best-of-N, best-of-1, spread.
SAMPLE_METRICS = ("ssim", "psnr", "single_ssim", "single_psnr", "spread")


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
    "flow": ("optical-flow interpolation", flow_interpolation),
}


def generation_scores(
    generated: np.ndarray, real: np.ndarray, examples_per_call: int | None = None
) -> dict[str, np.ndarray]:
    """uint8 generated [N, G, T, H, W, C], real [N, T, H, W, C] -> {"ssim", "psnr": [N, G]}:
    per example and generation, the mean over the middle frames. In calls of
    `examples_per_call` examples (default: chunks.map_examples') for any N."""
    return chunks.map_examples(
        _generation_scores, generated, real, examples_per_call=examples_per_call
    )


@jax.jit
def _generation_scores(generated: jax.Array, real: jax.Array) -> dict[str, jax.Array]:
    generated, real = generated[:, :, 1:-1], real[:, None, 1:-1]
    a, b = jnp.broadcast_arrays(to_unit_range(generated), to_unit_range(real))
    # dm-pix takes a single batch axis.
    per_frame_psnr = dm_pix.psnr(a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:]))
    return {
        "ssim": jnp.mean(ssim(generated, real), axis=-1),
        "psnr": jnp.mean(per_frame_psnr.reshape(a.shape[:-3]), axis=-1),
    }


def pixel_spread(generated: np.ndarray, examples_per_call: int | None = None) -> np.ndarray:
    """uint8 [N, G, T, H, W, C] -> [N]: per example, the standard deviation over its G
    generations at each pixel of the middle frames (0..255), the mean over pixels. In
    calls of `examples_per_call` examples, as generation_scores."""
    return chunks.map_examples(_pixel_spread, generated, examples_per_call=examples_per_call)


@jax.jit
def _pixel_spread(generated: jax.Array) -> jax.Array:
    middle = generated[:, :, 1:-1].astype(jnp.float32)
    return jnp.mean(jnp.std(middle, axis=1), axis=(1, 2, 3, 4))


def _best(per_generation: dict[str, np.ndarray]) -> dict[str, float]:
    return {metric: float(np.mean(np.max(s, axis=1))) for metric, s in per_generation.items()}


def best_of_n(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """uint8 generated [N, G, T, H, W, C] and real [N, T, H, W, C] -> {"ssim": mean over
    examples of the best SSIM, "psnr": the same for PSNR}."""
    return _best(generation_scores(generated, real))


def sample_scores(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """best_of_n's scores, and "single_ssim", "single_psnr" (best-of-1: the mean over
    examples and generations) and "spread" (pixel_spread's mean over examples)."""
    per_generation = generation_scores(generated, real)
    return {
        **_best(per_generation),
        **{f"single_{metric}": float(np.mean(s)) for metric, s in per_generation.items()},
        "spread": float(np.mean(pixel_spread(generated))),
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
    """Best-of-N and best-of-1 SSIM and PSNR, and the spread, of a model's middle frames on
    fixed held-out videos, with the references beside them (computed once, at the first
    call).

    real: uint8 [N, T, H, W, C]; num_samples: the N of best-of-N.
    """

    def __init__(self, real: np.ndarray, num_samples: int):
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.real = real
        self.num_samples = num_samples
        self._references = None

    def __call__(self, sample: Sampler, key: jax.Array) -> dict[str, float]:
        """Flat metrics: "model_<m>" for each of SAMPLE_METRICS, then "crossfade_ssim",
        "crossfade_psnr", ... for each reference."""
        if self._references is None:
            self._references = reference_scores(self.real)
        generated = sample(self.real[:, 0], self.real[:, -1], self.num_samples, key)
        scores = {"model": sample_scores(generated, self.real), **self._references}
        return {
            f"{name}_{metric}": value
            for name, values in scores.items()
            for metric, value in values.items()
        }

    def table(self, metrics: dict[str, float], extra_rows: dict[str, str] = None) -> str:
        """A Markdown table of the flat metrics that __call__ returned (and "unaveraged_"
        ones, from the weights themselves when the model samples with their average);
        extra_rows: {label: metric prefix} of more sampling rows from `metrics`, each with
        every one of SAMPLE_METRICS."""
        n = self.num_samples
        lines = [
            f"| method ({len(self.real)} held-out videos) | best-of-{n} SSIM | "
            f"best-of-{n} PSNR (dB) | best-of-1 SSIM | best-of-1 PSNR (dB) | spread (0-255) |",
            "|---|---|---|---|---|---|",
        ]
        labels = {"model": "model"}
        if "unaveraged_ssim" in metrics:
            labels = {"model": "model (weight average)", "unaveraged": "model (last weights)"}
        rows = {
            label: [metrics[f"{key}_{m}"] for m in SAMPLE_METRICS] for key, label in labels.items()
        }
        for key, (label, _) in REFERENCES.items():
            best = [metrics[f"{key}_ssim"], metrics[f"{key}_psnr"]]
            rows[label] = [*best, *best, 0.0]
        for label, prefix in (extra_rows or {}).items():
            rows[label] = [metrics[f"{prefix}_{m}"] for m in SAMPLE_METRICS]
        for label, (ssim_n, psnr_n, ssim_1, psnr_1, spread) in rows.items():
            lines.append(
                f"| {label} | {ssim_n:.3f} | {psnr_n:.2f} | {ssim_1:.3f} | {psnr_1:.2f} | "
                f"{spread:.2f} |"
            )
        return "\n".join(lines)

    def summary(self, metrics: dict[str, float]) -> str:
        """One line of the flat metrics: the model's, then the references'."""
        line = (
            f"best-of-{self.num_samples} SSIM {metrics['model_ssim']:.3f}, PSNR "
            f"{metrics['model_psnr']:.2f} dB, best-of-1 {metrics['model_single_ssim']:.3f}, "
            f"{metrics['model_single_psnr']:.2f} dB, spread {metrics['model_spread']:.2f}"
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
