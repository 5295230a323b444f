"""Every departure from the paper, declared once: what it changes, the config fields it
sets, its measured effect in one line and where the numbers are. All are off in the
paper's configs (config/paper.py declares their fields with the paper's values through
declare()); a recipe config switches them on by name:

    config = paper.get_config()
    departures.switch_on(config, "r1_penalty", "voxel_flow_head", ...)

Two kinds: a choice the paper leaves open or fixes otherwise, read differently ("reading"),
and something the paper does not have ("addition").
"""

import dataclasses
from typing import Any

import ml_collections

from inbetweening.config.fields import get_field, set_field

EXPERIMENTS = "docs/experiments.md"


@dataclasses.dataclass(frozen=True)
class Departure:
    name: str
    kind: str  # "reading" | "addition"
    summary: str
    on: dict[str, Any]  # {"dotted.field": value when switched on}
    # Fields that exist only for this departure, with the paper's behaviour (off).
    off: dict[str, Any]
    effect: str  # measured, one line
    numbers: str  # where the measurements are


DEPARTURES = (
    Departure(
        name="r1_penalty",
        kind="reading",
        summary="gradient penalty on real inputs only (R1) at 10, not Roth et al.'s "
        "weighted form at 0.1",
        on={"gradient_penalty.form": "real", "gradient_penalty.coefficient": 10.0},
        off={},
        effect="with Roth's form at 0.1 the discriminators won within 100 steps and the "
        "generator drew one memorised frame for every pair",
        numbers=f"{EXPERIMENTS}#the-fixed-batch-probe",
    ),
    Departure(
        name="identity_latent_blocks",
        kind="reading",
        summary="each residual block of G_Z starts as the identity (its last norm's scale "
        "at 0), an initialisation the paper leaves open",
        on={"model.latent_blocks_start_as_identity": True},
        off={"model.latent_blocks_start_as_identity": False},
        effect="the key frames' encodings reach G_V unchanged at step 0; part of the "
        "probe's recipe that first passed the cross-fade",
        numbers=f"{EXPERIMENTS}#the-fixed-batch-probe",
    ),
    Departure(
        name="every_middle_frame_for_image_discriminator",
        kind="reading",
        summary="D_I judges all T - 2 middle frames (eq. 8-9's average), not one sampled frame",
        on={"image_discriminator_frames": "all"},
        off={},
        effect="14x the frames per step for D_I, ~1.5x the demo step; part of the probe's recipe",
        numbers=f"{EXPERIMENTS}#the-fixed-batch-probe",
    ),
    Departure(
        name="fast_learning_rates",
        kind="reading",
        summary="Adam at 4e-4 for both networks, not 5e-5: minutes of training, not 500k steps",
        on={"learning_rate": 4e-4, "discriminator_learning_rate": 4e-4},
        off={},
        effect="part of the probe's recipe; 1e-3 made both discriminators constant",
        numbers=f"{EXPERIMENTS}#the-fixed-batch-probe",
    ),
    Departure(
        name="generator_weight_average",
        kind="addition",
        summary="samples, evaluations and exports use a moving average of the generator's "
        "weights (decay 0.99, TensorFlow's warm-up)",
        on={"generator_ema_decay": 0.99},
        off={"generator_ema_decay": 0.0},
        effect="held-out SSIM a few hundredths above the last weights' (0.590 against 0.578 "
        "after the demo's 400 steps)",
        numbers=f"{EXPERIMENTS}#voxel-flow",
    ),
    Departure(
        name="reconstruction_l1",
        kind="addition",
        summary="10 x the L1 of the middle frames joins the generator's adversarial loss "
        "(pix2pix's reconstruction term)",
        on={"reconstruction_weight": 10.0},
        off={"reconstruction_weight": 0.0},
        effect="demo after 400 steps: held-out SSIM 0.459 / 19.22 dB with it, 0.179 / "
        "15.41 without",
        numbers=f"{EXPERIMENTS}#measured-numbers-of-the-demo",
    ),
    Departure(
        name="best_of_many_reconstruction",
        kind="addition",
        summary="2 noise draws per pair of key frames in training: the L1 term takes the "
        "better of the two (best of many), the discriminators judge both",
        on={"reconstruction_samples": 2},
        off={"reconstruction_samples": 1},
        effect="the shipped model, fine-tuned 1,250 steps with it: best-of-8 0.680 / 21.72 dB, "
        "best-of-1 0.638, spread 3.8 (from 0.663 / 21.43, ~0.65, ~1)",
        numbers=f"{EXPERIMENTS}#diverse-in-betweens",
    ),
    Departure(
        name="key_frame_skips",
        kind="addition",
        summary="E's feature maps of the key frames also reach G_V's three up-sampling "
        "layers, weighted by each step's distance from either key frame",
        on={"model.key_frame_skips": True},
        off={"model.key_frame_skips": False},
        effect="demo after 400 steps: 0.507 / 20.07 dB with them, 0.459 / 19.22 without",
        numbers=f"{EXPERIMENTS}#key-frame-skips",
    ),
    Departure(
        name="voxel_flow_head",
        kind="addition",
        summary="G_V draws flows into both key frames and a blending mask instead of pixels "
        "(Deep Voxel Flow)",
        on={"model.frame_head": "voxel_flow"},
        off={"model.frame_head": "pixels"},
        effect="objects keep their shapes; 6,000 steps: 0.663 / 21.43 dB against the pixel "
        "head's best 0.630 / 21.18",
        numbers=f"{EXPERIMENTS}#voxel-flow",
    ),
    Departure(
        name="flax_normalisation_epsilons",
        kind="reading",
        summary="batch norm epsilon 1e-5 and layer norm 1e-6 (Flax's), not TensorFlow 1's "
        "1e-3 and 1e-12",
        on={"model.batch_norm_epsilon": 1e-5, "model.layer_norm_epsilon": 1e-6},
        off={},
        effect="not measured: kept because the shipped demo model was trained with them",
        numbers="WORKSPACE.md#decisions-and-why",
    ),
    Departure(
        name="mismatched_key_frames",
        kind="addition",
        summary="D_V also sees real videos under another video's key frames as fakes "
        "(matching-aware discriminator); an option for experiments",
        on={"mismatched_key_frames": True},
        off={"mismatched_key_frames": False},
        effect="no better than without it in the runs before the probe (0.357 against 0.355 "
        "at step 100)",
        numbers=f"{EXPERIMENTS}#before-the-probe",
    ),
    Departure(
        name="supervised_objective",
        kind="addition",
        summary="the generator alone, trained with the L1 of the middle frames and no "
        "discriminator: a diagnostic of the architecture, not a way to train",
        on={"objective": "supervised"},
        off={"objective": "adversarial"},
        effect="the supervised probe passes the cross-fade at step 300, the adversarial one at 600",
        numbers=f"{EXPERIMENTS}#the-fixed-batch-probe",
    ),
)
BY_NAME = {departure.name: departure for departure in DEPARTURES}


class UnknownDepartureError(ValueError):
    """A departure name that DEPARTURES does not hold."""


def declare(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Adds the fields that exist only for a departure, each with the paper's behaviour."""
    for departure in DEPARTURES:
        for field, value in departure.off.items():
            set_field(config, field, value)
    return config


def switch_on(config: ml_collections.ConfigDict, *names: str) -> ml_collections.ConfigDict:
    """Sets the fields of each named departure to its values."""
    for name in names:
        if name not in BY_NAME:
            raise UnknownDepartureError(
                f"departure {name!r}: not one of {', '.join(sorted(BY_NAME))}"
            )
        for field, value in BY_NAME[name].on.items():
            set_field(config, field, value)
    return config


def active(config) -> list[str]:
    """The departures whose fields all hold their values in `config` (a ConfigDict or a
    recorded dict), in DEPARTURES' order."""
    config = ml_collections.ConfigDict(config) if isinstance(config, dict) else config
    holds = lambda field, value: get_field(config, field) == value
    return [d.name for d in DEPARTURES if all(holds(f, v) for f, v in d.on.items())]
