"""A small model on the embedded synthetic dataset: 400 steps on 2 CPU cores in ~5 minutes.

Same architecture as the paper's, with narrower layers, 32x32 frames and L = 6.
"""

import os

from inbetweening import paper_config

# The same model trained for hours (pretrained/synthetic_demo/README.md), scored beside the
# demo's at the end of the run: beside configs/, in a clone of the repository.
PRETRAINED = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained", "synthetic_demo"
)


def get_config():
    config = paper_config.get_config()
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
    config.batch_size = 8
    config.num_train_steps = 400
    # What the fixed-batch probe (python -m inbetweening.probe) showed the paper's settings
    # need to learn in minutes rather than days (WORKSPACE.md, "The fixed-batch probe"):
    # R1 on real inputs at 10 (Roth et al.'s weighted form at 0.1 lets the discriminators
    # win and the generator collapse to one memorised frame), residual blocks that start
    # as the identity, every middle frame for D_I (eq. 8-9's average rather than one
    # sampled frame), 4e-4 for both networks, and samples from a weight average.
    config.gradient_penalty.form = "real"
    config.gradient_penalty.coefficient = 10.0
    model.latent_blocks_start_as_identity = True
    config.image_discriminator_frames = "all"
    config.learning_rate = 4e-4
    config.discriminator_learning_rate = 4e-4
    config.generator_ema_decay = 0.99
    # Not the paper's: 10 x the L1 of the middle frames joins the generator's adversarial
    # loss (pix2pix's reconstruction term). Held-out after 400 steps: 0.459 SSIM / 19.22 dB
    # with it, 0.179 / 15.41 without (WORKSPACE.md, "Measured numbers").
    config.reconstruction_weight = 10.0
    # Not the paper's either: E's key-frame feature maps also reach G_V's up-sampling layers
    # (paper_config.py). Held-out after 400 steps: 0.507 SSIM / 20.07 dB with them, 0.459 /
    # 19.22 without; without them the model took thousands of steps to redraw even a key
    # frame (WORKSPACE.md, "Key-frame skips").
    model.key_frame_skips = True
    # Not the paper's either: G_V draws flows into both key frames and a blending mask
    # rather than pixels (paper_config.py), so objects keep their shapes in the middle
    # frames instead of turning into soft patches of their colour (WORKSPACE.md, "Voxel
    # flow").
    model.frame_head = "voxel_flow"
    # I3D at 224x224 embeds ~0.4 videos/s on 2 CPU cores: too slow for a demo of minutes.
    config.eval.validation_fvd = False
    config.eval.num_generations = 2
    config.eval.reference_models = (PRETRAINED,) if os.path.isdir(PRETRAINED) else ()
    config.log_every_steps = 25
    config.sample_every_steps = 200  # samples and the held-out table
    config.checkpoint_every_steps = 100
    return config
