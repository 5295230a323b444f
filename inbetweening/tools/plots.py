"""The tools' pictures: curves (matplotlib, no display needed) and the probe's push."""

import io

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from inbetweening.storage.media import png_bytes, video_grid  # noqa: E402
from inbetweening.storage.paths import write_atomically  # noqa: E402

# The references that need no training: (metric prefix, line style, legend).
REFERENCE_LINES = (
    ("crossfade", "--", "cross-fade"),
    ("repeat", ":", "repeat key frames"),
    ("flow", "-.", "optical flow"),
)


def _save(figure, path: str) -> None:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_atomically(path, buffer.getvalue())


def plot_probe(result: dict, path: str) -> None:
    """A probe's curve (probe.run_probe's result): SSIM and PSNR against the references
    (REFERENCE_LINES); spreads of the middle frames; the losses."""
    curve = result["curve"]
    steps = [p["step"] for p in curve]
    figure, axes = plt.subplots(1, 4, figsize=(18, 4))
    for axis, metric, unit in ((axes[0], "ssim", ""), (axes[1], "psnr", " (dB)")):
        axis.plot(steps, [p[f"model_{metric}"] for p in curve], "o-", label="model")
        for color, (key, style, name) in zip(("C1", "C2", "C3"), REFERENCE_LINES):
            axis.axhline(result[f"{key}_{metric}"], color=color, ls=style, label=name)
        axis.set(title=f"best-of-N {metric.upper()}{unit}", xlabel="step")
        axis.legend()
    axes[2].plot(steps, [p["spread_across_videos"] for p in curve], "o-", label="across videos")
    axes[2].plot(steps, [p["spread_across_noise"] for p in curve], "o-", label="across noise")
    axes[2].axhline(
        curve[-1]["real_spread_across_videos"], color="k", ls="--", label="real, across videos"
    )
    axes[2].set(title="spread of the middle frames", xlabel="step")
    axes[2].legend()
    for name in sorted(k for k in curve[-1] if k.endswith("_loss")):
        axes[3].plot(steps, [p[name] for p in curve], label=name)
    axes[3].set(title="losses (window means)", xlabel="step", yscale="log")
    axes[3].legend(fontsize=7)
    figure.suptitle(f"{result['kind']} probe, {result['num_videos']} videos")
    _save(figure, path)


def plot_held_out_curves(curves: dict[str, list[dict]], path: str) -> None:
    """Held-out best-of-N SSIM and PSNR against the step, one line per run ({label:
    metrics.json's held_out_curve}), with each run's references (REFERENCE_LINES, those its
    curve holds: older runs have no optical flow) as horizontal lines (one set when every
    run shares them)."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    references = {
        tuple(
            curve[-1].get(f"{key}_{m}") for key, _, _ in REFERENCE_LINES for m in ("ssim", "psnr")
        )
        for curve in curves.values()
    }
    for index, (label, curve) in enumerate(curves.items()):
        steps = [point["step"] for point in curve]
        for axis, metric in zip(axes, ("ssim", "psnr")):
            axis.plot(
                steps,
                [p[f"model_{metric}"] for p in curve],
                "o-",
                color=f"C{index}",
                label=label,
                markersize=3,
            )
            if len(references) > 1 or index == 0:
                suffix = f" ({label})" if len(references) > 1 else ""
                for key, style, name in REFERENCE_LINES:
                    if f"{key}_{metric}" not in curve[-1]:
                        continue
                    axis.axhline(
                        curve[-1][f"{key}_{metric}"],
                        color=f"C{index}",
                        ls=style,
                        alpha=0.6,
                        label=f"{name}{suffix}",
                    )
    for axis, title in zip(axes, ("best-of-N SSIM", "best-of-N PSNR (dB)")):
        axis.set(title=f"held-out {title}", xlabel="step")
        axis.legend(fontsize=8)
    _save(figure, path)


def signed_to_uint8(x: np.ndarray) -> np.ndarray:
    """A signed map (a gradient) -> uint8 with 0 at mid-grey, scaled by its largest |x|."""
    scale = max(float(np.abs(x).max()), 1e-30)
    return np.round(127.5 + 127.5 * x / scale).astype(np.uint8)


def push_image(push: dict, videos: np.ndarray, rows: int = 4, zoom: int = 4) -> bytes:
    """PNG: per video (at most `rows`), its middle frame T//2, the generated one, and where
    D_V and D_I push the generated one (probe.generator_push; mid-grey = no push)."""
    middle = videos.shape[1] // 2
    to_pixels = lambda x: np.round((np.asarray(x, np.float32) + 1) * 127.5).astype(np.uint8)
    cells = [
        [
            videos[i, middle],
            to_pixels(push["fake"][i, middle]),
            signed_to_uint8(np.asarray(push["video"][i, middle])),
            signed_to_uint8(np.asarray(push["image"][i, middle])),
        ]
        for i in range(min(rows, len(videos)))
    ]
    grid = video_grid(np.array(cells)[:, :, None])[0]
    return png_bytes(grid.repeat(zoom, axis=0).repeat(zoom, axis=1))
