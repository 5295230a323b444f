"""TF1 resize_bilinear semantics, against a loop-per-pixel NumPy version and TF itself."""

import jax
import numpy as np
import pytest

from inbetweening.eval import preprocess

SIZES = [
    ((64, 64), (224, 224)),
    ((48, 80), (224, 224)),
    ((240, 320), (224, 224)),
    ((7, 5), (3, 11)),
]


def _tf1_resize_reference(image, out_h, out_w):
    """TF1 legacy bilinear, pixel by pixel: source = dest * in / out, floor, clamp, lerp.

    Source positions in float32, as TF's kernel computes them.
    """
    in_h, in_w, _ = image.shape
    out = np.zeros((out_h, out_w, image.shape[2]), np.float64)
    for y in range(out_h):
        src_y = np.float32(y) * (np.float32(in_h) / np.float32(out_h))
        y0 = int(np.floor(src_y))
        y1 = min(y0 + 1, in_h - 1)
        dy = float(src_y) - y0
        for x in range(out_w):
            src_x = np.float32(x) * (np.float32(in_w) / np.float32(out_w))
            x0 = int(np.floor(src_x))
            x1 = min(x0 + 1, in_w - 1)
            dx = float(src_x) - x0
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * dx
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * dx
            out[y, x] = top + (bottom - top) * dy
    return out


@pytest.mark.parametrize("in_size,out_size", SIZES)
def test_matches_numpy_tf1_reference(in_size, out_size, rng):
    image = rng.uniform(0, 1, in_size + (3,)).astype(np.float32)
    expected = _tf1_resize_reference(image.astype(np.float64), *out_size)
    actual = np.asarray(preprocess.resize_bilinear_tf1(image[None], out_size))[0]
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("in_size,out_size", SIZES)
def test_matches_tensorflow_resize_bilinear(tf, in_size, out_size, rng):
    frames = rng.integers(0, 256, (2,) + in_size + (3,), dtype=np.uint8)
    expected = tf.compat.v1.image.resize_bilinear(
        frames, out_size, align_corners=False, half_pixel_centers=False
    ).numpy()
    actual = np.asarray(preprocess.resize_bilinear_tf1(frames, out_size))
    np.testing.assert_allclose(actual, expected, atol=1e-5 * 255)


def test_differs_from_half_pixel_resize(rng):
    image = rng.uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    tf1 = np.asarray(preprocess.resize_bilinear_tf1(image, (224, 224)))
    half_pixel = np.asarray(jax.image.resize(image, (1, 224, 224, 3), "bilinear"))
    assert np.abs(tf1 - half_pixel).max() > 0.1


def test_i3d_input_from_uint8_float_and_gray(rng):
    videos = rng.integers(0, 256, (2, 3, 16, 16, 1), dtype=np.uint8)
    from_uint8 = np.asarray(preprocess.to_i3d_input(videos))
    assert from_uint8.shape == (2, 3, 224, 224, 3) and from_uint8.dtype == np.float32
    assert from_uint8.min() >= -1 and from_uint8.max() <= 1
    np.testing.assert_array_equal(from_uint8[..., 0], from_uint8[..., 2])
    # frechet_video_distance: resize in 0..255, then 2 x / 255 - 1.
    expected = 2 * _tf1_resize_reference(videos[0, 0].astype(np.float64), 224, 224) / 255 - 1
    np.testing.assert_allclose(from_uint8[0, 0, :, :, :1], expected, atol=1e-5)
    from_float = np.asarray(preprocess.to_i3d_input(videos.astype(np.float32) / 127.5 - 1))
    np.testing.assert_allclose(from_float, from_uint8, atol=1e-5)
