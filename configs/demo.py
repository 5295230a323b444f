"""A small model on the embedded synthetic dataset: trains on 2 CPU cores in ~10 minutes.

Same architecture as the paper's, with narrower layers, 32x32 frames and L = 6.
"""

from inbetweening import paper_config


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
    # The paper's 5e-5 is for 500k steps; the demo has minutes. 1e-3 made both
    # discriminators collapse to a constant output within 100 steps (WORKSPACE.md).
    config.learning_rate = 2e-4
    config.discriminator_learning_rate = 2e-4
    # I3D at 224x224 embeds ~0.4 videos/s on 2 CPU cores: too slow for a 10-minute demo.
    config.eval.validation_fvd = False
    config.eval.num_generations = 2
    config.log_every_steps = 25
    config.sample_every_steps = 200  # samples and the held-out table
    config.checkpoint_every_steps = 100
    return config
