"""The paper's settings (Section 3-4, Appendix A), which every config file starts from;
then the settings of how a run is computed and reported, which change no result; then the
fields of the departures from the paper (config/departures.py), all off."""

import ml_collections

from inbetweening.config import departures


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0

    config.model = model = ml_collections.ConfigDict()
    model.variant = "full"  # "full" | "no_fusion" | "naive" (Section 4.2)
    model.num_frames = 16  # T, key frames included
    model.image_size = 64  # frames are square: H = W
    model.image_channels = 3
    model.noise_dim = 128  # D
    model.latent_channels = 64  # C
    model.num_latent_blocks = 24  # L
    model.encoder_channels = (64, 64, 128, 128, 256, 256)
    model.video_generator_channels = (256, 256, 128, 128, 64, 64)
    model.video_discriminator_channels = (64, 128, 256, 512)
    model.image_discriminator_channels = (64, 128, 256, 512)
    # What D_I's residual shortcuts read: "block_input" (Appendix A's L2 = Conv(L1) +
    # Shortcut(x), as ResNet discriminators) or "previous_layer" (the 3x3 conv's output).
    model.image_discriminator_shortcut = "block_input"
    # The paper's code would have been TensorFlow 1: tf.layers.batch_normalization's
    # momentum 0.99 and epsilon 1e-3, tf.contrib.layers.layer_norm's variance epsilon 1e-12
    # (WORKSPACE.md, Decisions).
    model.batch_norm_momentum = 0.99
    model.batch_norm_epsilon = 1e-3
    model.layer_norm_epsilon = 1e-12
    # How the model is computed (same function, same parameters).
    # "fast" (stride-1 convolutions + depth/space rearrangements, with their own gradients,
    # built for XLA:CPU) or "xla"; same function and parameters. "auto": "fast" on CPU,
    # where it is ~10-500x faster, "xla" on GPU and TPU, where "fast" was never measured.
    model.conv_impl = "auto"
    # "float32" (the paper's; recent GPUs still use TF32 inside convolutions) or
    # "bfloat16": dtype of activations and convolutions, a speed/fidelity trade-off
    # (parameters, optimizer state, normalisation statistics, logits and losses stay
    # float32). "auto": bfloat16 on GPU and TPU, float32 on CPU.
    model.compute_dtype = "float32"
    # Recompute each latent block's activations in the backward pass instead of keeping
    # them: less memory for about one more forward pass of G_Z. Same parameters.
    model.remat_latent_blocks = False

    config.data = data = ml_collections.ConfigDict()
    data.name = "synthetic"
    data.data_dir = "~/tensorflow_datasets"
    data.seed = 0
    data.num_eval_videos = 256  # per held-out split of the synthetic dataset
    # Simpler variants of the synthetic dataset: fewer objects (1-3), a "plain" background.
    data.synthetic_max_objects = 3
    data.synthetic_background = "varied"
    data.camera = "image_aux1"  # BAIR: the camera the released model's demo uses

    config.batch_size = 32  # global, over all devices: pairs of key frames and real videos
    config.num_train_steps = 500_000
    config.learning_rate = 5e-5  # the generator's
    config.discriminator_learning_rate = 5e-5  # the paper's one rate for both
    config.adam_b1 = 0.5
    config.adam_b2 = 0.999
    config.adam_eps = 1e-8

    # What D_I and its generator term (eq. 8-9) see of each video: "all" its T - 2 middle
    # frames, as the equations average; "one" uniformly sampled middle frame (the same
    # expectation for a fraction of the cost, and 1 / (T - 2) of the gradient signal).
    config.image_discriminator_frames = "one"
    config.gradient_penalty = penalty = ml_collections.ConfigDict()
    # Roth et al. 2017 with a constant coefficient instead of their annealing. Forms:
    # "roth": E_real[(1 - D)^2 |grad|^2] + E_fake[D^2 |grad|^2] (D = sigmoid of the logit);
    # "real": E_real |grad|^2 (R1); "real_fake": E_real |grad|^2 + E_fake |grad|^2.
    penalty.form = "roth"
    # The loss adds coefficient / 2 * Omega, reading the paper's "0.1" as Roth et al.'s
    # gamma (their loss has gamma / 2 * Omega): 0.1 adds 0.05 * Omega. For the other
    # reading, 0.1 * Omega, set coefficient = 0.2.
    penalty.coefficient = 0.1

    # A params export or a work directory whose generator (weights and batch statistics)
    # a new run starts from, with fresh discriminators and optimizer states: fine-tuning.
    # "": the initialisation.
    config.init_generator_from = ""

    # How a run is computed and reported (no result changes with these).
    # Devices per group that split the parameters and optimizer state between them (FSDP);
    # the batch is split over all devices either way. 1: every device holds everything.
    config.mesh_fsdp = 1
    # Train steps per call of the jitted step (a lax.scan over stacked batches): the host
    # dispatches the state's arrays once per call. The logging, sampling and checkpoint
    # intervals and num_train_steps must be multiples of it.
    config.steps_per_call = 1
    config.eval = evaluation = ml_collections.ConfigDict()
    evaluation.split = "test"
    evaluation.num_videos = 0  # the first N videos of the split; 0: all of them
    evaluation.num_generations = 100  # per pair of key frames (Section 4.1)
    evaluation.num_bootstrap_resamples = 1000
    evaluation.embedding_batch_size = 16
    # FVD on the validation split at every checkpoint, to keep the best (Section 4.1).
    evaluation.validation_fvd = True
    # At every sample step: best-of-N SSIM and PSNR of the middle frames on held-out
    # (validation) videos, beside a cross-fade and the repeated key frames. No I3D.
    evaluation.quality_videos = 32
    evaluation.quality_samples = 8  # the N of best-of-N
    # Trained models (params exports or work directories) scored beside the run on the
    # same held-out videos at the end of training, each with its own sample grid.
    evaluation.reference_models = ()

    config.log_every_steps = 100
    config.sample_every_steps = 5_000
    config.num_sample_videos = 4  # held-out videos in each sample grid
    config.num_samples_per_video = 3  # in-betweens per held-out video
    config.checkpoint_every_steps = 5_000
    config.checkpoints_to_keep = 3  # the latest k; the best by validation FVD is kept too
    return departures.declare(config)
