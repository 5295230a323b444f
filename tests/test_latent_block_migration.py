"""G_Z's blocks scanned per temporal level (models/latent_generator.py) against the
unrolled G_Z of earlier versions: the same function, and that version's parameter trees
(params exports, a work directory's TrainState) converted where they are read
(config.migration.stack_latent_blocks)."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from inbetweening.config.migration import has_unrolled_latent_blocks, stack_latent_blocks
from inbetweening.models import create_models
from inbetweening.models.latent_generator import LatentBlock, LatentGenerator, upsample_time
from inbetweening.models.normalization import BatchNorm
from inbetweening.runtime.sharding import make_mesh
from inbetweening.training import train
from inbetweening.training.checkpoints import TrainingCheckpoints, flatten_with_names
from inbetweening.training.trained_models import TrainedGenerator, generator_variables

import tiny_setup
from random_values import parameter_value

B, S, C, D, T = 2, 2, 4, 3, 16


class UnrolledLatentGenerator(nn.Module):
    """G_Z as earlier versions computed it: the L blocks unrolled, LatentBlock_0..L-1."""

    num_blocks: int

    @nn.compact
    def __call__(self, start_encoding, end_encoding, noise, train):
        z = jnp.stack([start_encoding, end_encoding], axis=1)
        index = 0
        for length in (T // 4, T // 2, T):
            z = upsample_time(z, length)
            for _ in range(self.num_blocks // 3):
                z = LatentBlock(batch_norm=BatchNorm(epsilon=1e-5), name=f"LatentBlock_{index}")(
                    z, start_encoding, end_encoding, noise, train
                )
                index += 1
        return z


def _randomised(variables, seed: int):
    """Every value drawn anew (random_values), so that a block read in the wrong order or
    from the wrong level changes the output."""
    rng = np.random.default_rng(seed)
    flat = flax.traverse_util.flatten_dict(variables)
    return flax.traverse_util.unflatten_dict(
        {
            path: parameter_value(path[-1], leaf.shape, rng, 0.3).astype(np.float32)
            for path, leaf in sorted(flat.items())
        }
    )


def test_scanned_blocks_compute_the_unrolled_generator_with_its_converted_parameters():
    """Outputs, batch statistics and gradients; with remat, which wraps each scanned block
    (the plain scan is the shipped model's path, tests/test_pretrained.py)."""
    rng = np.random.default_rng(0)
    start, end = (jnp.asarray(rng.normal(size=(B, S, S, C)), jnp.float32) for _ in range(2))
    noise = jnp.asarray(rng.normal(size=(B, D)), jnp.float32)
    unrolled = UnrolledLatentGenerator(num_blocks=6)
    old = _randomised(unrolled.init(jax.random.PRNGKey(0), start, end, noise, False), 1)
    assert sorted(old["params"]) == [f"LatentBlock_{i}" for i in range(6)]
    scanned = LatentGenerator(T, 6, batch_norm=BatchNorm(epsilon=1e-5), remat_blocks=True)
    new = stack_latent_blocks(old)
    assert jax.tree.map(np.shape, new) == jax.tree.map(
        np.shape, scanned.init(jax.random.PRNGKey(0), start, end, noise, False)
    )

    # Compiled: op by op, the scanned blocks' remat and gradients took ~40 s here.
    def apply(module, variables, train_mode):
        return jax.jit(
            lambda v: module.apply(v, start, end, noise, train_mode, mutable=["batch_stats"])
        )(variables)

    for train_mode in (False, True):
        expected, expected_stats = apply(unrolled, old, train_mode)
        z, stats = apply(scanned, new, train_mode)
        np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
            stats,
            stack_latent_blocks(expected_stats),
        )

    def loss(module, variables):
        def of_params(params):
            z, _ = module.apply(
                {"params": params, "batch_stats": variables["batch_stats"]},
                start,
                end,
                noise,
                True,
                mutable=["batch_stats"],
            )
            return jnp.sum(jnp.sin(z))

        return of_params

    expected_grads = jax.jit(jax.grad(loss(unrolled, old)))(old["params"])
    grads = jax.jit(jax.grad(loss(scanned, new)))(new["params"])
    # Sums of many terms, in another order: float32 rounding relative to the largest.
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5 * max(1.0, np.abs(b).max())),
        grads,
        stack_latent_blocks(expected_grads),
    )


def test_stack_latent_blocks_stacks_each_level_in_order_wherever_the_blocks_are():
    block = lambda i: {"conv1": {"kernel": np.full((3, 2), float(i))}, "bn": {"var": np.ones(2)}}
    generator = {f"LatentBlock_{i}": block(i) for i in range(6)}
    other = {"kernel": np.arange(3.0)}
    state = {
        "g_params": {"LatentGenerator_0": generator, "VideoGenerator_0": other},
        "g_opt_state": [{"count": np.int32(4), "mu": {"LatentGenerator_0": generator}}, {}],
        "step": np.int32(7),
    }
    converted = stack_latent_blocks(state)

    levels = converted["g_params"]["LatentGenerator_0"]
    assert sorted(levels) == ["level_0", "level_1", "level_2"]
    for level in range(3):
        kernels = levels[f"level_{level}"]["conv1"]["kernel"]
        assert kernels.shape == (2, 3, 2)
        np.testing.assert_array_equal(kernels[:, 0, 0], [2 * level, 2 * level + 1])
    np.testing.assert_array_equal(converted["g_params"]["VideoGenerator_0"]["kernel"], [0, 1, 2])
    mu = converted["g_opt_state"][0]["mu"]["LatentGenerator_0"]
    np.testing.assert_array_equal(mu["level_2"]["conv1"]["kernel"][:, 0, 0], [4, 5])
    assert converted["g_opt_state"][0]["count"] == 4 and converted["step"] == 7
    # A converted tree converts to itself.
    assert jax.tree.map(np.shape, stack_latent_blocks(converted)) == jax.tree.map(
        np.shape, converted
    )
    assert has_unrolled_latent_blocks(flatten_with_names(state))
    assert not has_unrolled_latent_blocks(flatten_with_names(converted))

    with pytest.raises(ValueError, match=r"latent blocks \[0, 1, 3\]"):
        stack_latent_blocks({f"LatentBlock_{i}": block(i) for i in (0, 1, 3)})


def _unstacked(tree):
    """The unrolled layout of a scanned tree, written independently of the conversion: each
    "level_k"'s i-th slice becomes LatentBlock_{k L/3 + i}."""
    if not isinstance(tree, dict):
        return tree
    if "level_0" not in tree:
        return {name: _unstacked(subtree) for name, subtree in tree.items()}
    per_level = len(jax.tree.leaves(tree["level_0"])[0])
    return {
        f"LatentBlock_{level * per_level + i}": jax.tree.map(
            lambda a, i=i: np.asarray(a)[i], tree[f"level_{level}"]
        )
        for level in range(3)
        for i in range(per_level)
    }


@pytest.mark.parametrize("ema_decay", [0.99, 0.0], ids=["average", "no_average"])
def test_a_work_directory_and_an_export_of_the_unrolled_layout_resume_and_load(tmp_path, ema_decay):
    """A TrainState saved by an earlier version (G_Z's blocks unrolled in the generator's
    weights, their average when the run keeps one, batch statistics and Adam moments)
    resumes as the same state in the scanned layout; its generator and a params export of
    that layout load so."""
    config = tiny_setup.tiny_config(4, num_latent_blocks=6)
    config.generator_ema_decay = ema_decay
    models = create_models(config.model)
    state = tiny_setup.initial_state(config, models)
    rng = np.random.default_rng(0)
    state = jax.tree.map(lambda a: a + rng.normal(size=a.shape).astype(a.dtype), state)
    adam = state.g_opt_state[0]
    old_state = state.replace(
        g_params=_unstacked(state.g_params),
        g_ema_params=_unstacked(state.g_ema_params),
        g_batch_stats=_unstacked(state.g_batch_stats),
        g_opt_state=(
            adam._replace(mu=_unstacked(adam.mu), nu=_unstacked(adam.nu)),
            *state.g_opt_state[1:],
        ),
    )
    assert "LatentBlock_5" in old_state.g_opt_state[0].nu["LatentGenerator_0"]
    assert (old_state.g_ema_params is None) == (ema_decay == 0)
    workdir = tmp_path / "old_workdir"
    checkpoints = TrainingCheckpoints(str(workdir), keep=1)
    checkpoints.save(3, old_state, config)
    checkpoints.wait_until_finished()
    checkpoints.close()

    mesh = make_mesh(fsdp=2)
    abstract = train.placed_abstract_state(config, models, mesh)
    reopened = TrainingCheckpoints(str(workdir), keep=1)
    resumed, first_step = reopened.restore_newest_or_init(abstract, lambda: pytest.fail("init"))
    reopened.close()
    assert first_step == 4
    assert jax.tree.structure(resumed) == jax.tree.structure(abstract)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), b), resumed, state)
    placed = jax.tree.map(
        lambda a, b: a.sharding.is_equivalent_to(b.sharding, a.ndim), resumed, abstract
    )
    assert all(jax.tree.leaves(placed))

    expected = generator_variables(state)
    loaded = TrainedGenerator.load(workdir)
    jax.tree.map(np.testing.assert_array_equal, loaded.variables, expected)
    export = tmp_path / "old_export"
    TrainedGenerator(config.model, generator_variables(old_state)).write_params(export)
    jax.tree.map(np.testing.assert_array_equal, TrainedGenerator.load(export).variables, expected)
