"""The probe's measures of a generator on a fixed batch: how much its middle frames vary
across videos and noise, and what the discriminators push it towards (the direction, and
how much of it is pixel-level noise)."""

import numpy as np

from inbetweening.data.pixels import to_model_range
from inbetweening.eval.ssim import to_unit_range

# Spatial frequencies above this (cycles per pixel, of the 0.5 Nyquist limit) count as
# high: a checkerboard is at 0.5, an object's edge spreads over all.
HIGH_FREQUENCY = 0.25


def spreads(generated: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """generated uint8 [B, N, T, H, W, C], real [B, T, H, W, C] -> standard deviations of
    the middle frames in [0, 1] units, per pixel, averaged over pixels: across videos (for
    each noise sample) and across noise samples (for each video)."""
    fake = np.asarray(to_unit_range(generated[:, :, 1:-1]))
    real = np.asarray(to_unit_range(real[:, 1:-1]))
    return {
        "spread_across_videos": float(fake.std(axis=0).mean()),
        "spread_across_noise": float(fake.std(axis=1).mean()),
        "real_spread_across_videos": float(real.std(axis=0).mean()),
    }


def high_frequency_share(x: np.ndarray) -> float:
    """Share of the energy of x [..., H, W, C] at spatial frequencies above HIGH_FREQUENCY."""
    spectrum = np.abs(np.fft.fft2(x, axes=(-3, -2))) ** 2
    fy = np.abs(np.fft.fftfreq(x.shape[-3]))[:, None, None]
    fx = np.abs(np.fft.fftfreq(x.shape[-2]))[None, :, None]
    high = np.maximum(fy, fx) > HIGH_FREQUENCY
    return float((spectrum * high).sum() / max(spectrum.sum(), 1e-30))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the leading axis of the cosine between a[i] and b[i]."""
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.sum(a * b, axis=1) / np.maximum(norms, 1e-30)))


def coarse(x: np.ndarray, factor: int = 4) -> np.ndarray:
    """[..., H, W, C] averaged over factor x factor pixel blocks: the low frequencies, which
    a convolutional generator follows more readily than pixel-level noise."""
    *lead, h, w, c = x.shape
    return x.reshape(*lead, h // factor, factor, w // factor, factor, c).mean(axis=(-4, -2))


def push_metrics(push: dict, videos: np.ndarray) -> dict[str, float]:
    real = np.asarray(to_model_range(videos))[:, 1:-1]
    fake = np.asarray(push["fake"])[:, 1:-1]
    metrics = {}
    for name in ("video", "image"):
        direction = np.asarray(push[name])[:, 1:-1]
        metrics[f"{name}_push_cosine_to_real"] = cosine(direction, real - fake)
        metrics[f"{name}_push_coarse_cosine_to_real"] = cosine(
            coarse(direction), coarse(real - fake)
        )
        metrics[f"{name}_push_high_frequency"] = high_frequency_share(direction)
    metrics["real_minus_fake_high_frequency"] = high_frequency_share(real - fake)
    return metrics
