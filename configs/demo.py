"""A small model on the embedded synthetic dataset, trained in minutes on 2 CPU cores.

The paper's architecture with narrower layers, 32x32 frames and L = 6, trained with a recipe
of departures from the paper (inbetweening/config/departures.py says what each does and
what it was measured to change).
"""

import os

from inbetweening.config import departures, paper

# The same model trained for hours (pretrained/synthetic_demo/README.md), scored beside the
# demo's at the end of the run: beside configs/, in a clone of the repository.
PRETRAINED = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained", "synthetic_demo"
)
RECIPE = (
    "r1_penalty",
    "identity_latent_blocks",
    "every_middle_frame_for_image_discriminator",
    "fast_learning_rates",
    "generator_weight_average",
    "reconstruction_l1",
    "best_of_many_reconstruction",
    "key_frame_skips",
    "voxel_flow_head",
    "flax_normalisation_epsilons",
)


def get_config():
    config = departures.switch_on(paper.get_config(), *RECIPE)
    config.data.name = "synthetic"
    model = config.model
    model.image_size = 32
    model.noise_dim = 32
    model.latent_channels = 32
    model.num_latent_blocks = 6
    model.encoder_channels = (16, 16, 32, 32, 64, 64)
    model.video_generator_channels = (64, 64, 32, 32, 16, 16)
    model.video_discriminator_channels = (16, 32, 64, 128)
    model.image_discriminator_channels = (16, 32, 64, 128)
    # 4 pairs of key frames, 2 noise draws each (best_of_many_reconstruction): the
    # discriminators see 8 generated videos a step.
    config.batch_size = 4
    # Minutes on 2 CPU cores, long enough to show training move; the shipped model
    # (pretrained/synthetic_demo, scored beside it) is what hours of the recipe give.
    config.num_train_steps = 100
    # I3D at 224x224 embeds ~0.4 videos/s on 2 CPU cores: too slow for a demo of minutes.
    config.eval.validation_fvd = False
    config.eval.num_generations = 2
    config.eval.reference_models = (PRETRAINED,) if os.path.isdir(PRETRAINED) else ()
    config.log_every_steps = 25
    config.sample_every_steps = 100  # samples and the held-out table, once at the end
    config.checkpoint_every_steps = 50
    return config
