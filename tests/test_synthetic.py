"""Tests for the embedded bouncing-shapes dataset.

Motion, object counts and bounces are checked from the pixels alone, never from the
generator's internal state: objects are brighter than the background (see the module
docstring), and each object's interior is one flat colour.
"""

import hashlib
import threading
import time

import ml_collections
import numpy as np
import pytest

from inbetweening.data import input_pipeline
from inbetweening.data.synthetic import generate_batch, generate_video

# Brighter than any background pixel, darker than any object interior.
_FOREGROUND_THRESHOLD = 105


def _foreground(videos):
    return videos.max(axis=-1) > _FOREGROUND_THRESHOLD


def _num_objects(frame):
    """Counts distinct flat colours in the foreground: antialiased edges never form plateaus."""
    code = frame.astype(np.int64) @ (256 ** np.arange(frame.shape[-1]))
    inner = code[1:-1, 1:-1]
    plateau = (
        (inner == code[:-2, 1:-1])
        & (inner == code[2:, 1:-1])
        & (inner == code[1:-1, :-2])
        & (inner == code[1:-1, 2:])
        & _foreground(frame)[1:-1, 1:-1]
    )
    return len(np.unique(inner[plateau]))


def _centroids(videos):
    """Centroid (y, x) of the foreground, [N, T] each."""
    fg = _foreground(videos)
    area = fg.sum(axis=(2, 3))
    ys = np.arange(videos.shape[2]) + 0.5
    xs = np.arange(videos.shape[3]) + 0.5
    return (fg.sum(axis=3) @ ys) / area, (fg.sum(axis=2) @ xs) / area


@pytest.mark.parametrize(
    "num_frames,height,width,channels",
    [(16, 64, 64, 3), (16, 64, 64, 1), (8, 32, 32, 3), (5, 24, 40, 1), (3, 48, 20, 3)],
)
def test_shape_and_dtype(num_frames, height, width, channels):
    video = generate_video(0, 0, num_frames, height, width, channels)
    assert video.shape == (num_frames, height, width, channels)
    assert video.dtype == np.uint8
    batch = generate_batch(0, [3, 1], num_frames, height, width, channels)
    assert batch.shape == (2, num_frames, height, width, channels)
    assert batch.dtype == np.uint8


def test_empty_batch():
    assert generate_batch(0, [], 16, 32, 32, 3).shape == (0, 16, 32, 32, 3)


def test_deterministic_per_seed_and_index():
    video = generate_video(5, 17, 16, 32, 32, 3)
    np.testing.assert_array_equal(video, generate_video(5, 17, 16, 32, 32, 3))
    assert not np.array_equal(video, generate_video(5, 18, 16, 32, 32, 3))
    assert not np.array_equal(video, generate_video(6, 17, 16, 32, 32, 3))


def test_batch_equals_stacked_videos():
    indices = [4, 0, 123456, 4]
    batch = generate_batch(9, indices, 6, 24, 36, 3)
    expected = np.stack([generate_video(9, i, 6, 24, 36, 3) for i in indices])
    np.testing.assert_array_equal(batch, expected)


def test_longer_video_extends_shorter():
    np.testing.assert_array_equal(
        generate_video(1, 2, 16, 32, 32, 1)[:8], generate_video(1, 2, 8, 32, 32, 1)
    )


def test_values_span_a_range_and_background_is_not_black():
    videos = generate_batch(0, range(20), 4, 32, 32, 3)
    for video in videos:
        assert int(video.max()) - int(video.min()) > 60
    background = videos[~_foreground(videos)]
    assert background.mean() > 15


def test_grayscale_has_visible_objects():
    videos = generate_batch(0, range(20), 4, 32, 32, 1)
    fraction = _foreground(videos).mean(axis=(2, 3))
    assert (fraction > 0.03).all() and (fraction < 0.9).all()


def test_objects_in_view_and_object_counts():
    videos = generate_batch(0, range(60), 16, 64, 64, 3)
    # Every frame shows at least one object, and the dataset mixes one, two and three.
    assert _foreground(videos).any(axis=(2, 3)).all()
    counts = {_num_objects(video[0]) for video in videos}
    assert counts == {1, 2, 3}


def test_simpler_variants_keep_the_objects_and_motion_of_each_video():
    varied = generate_batch(0, range(40), 16, 64, 64, 3)
    simple = generate_batch(0, range(40), 16, 64, 64, 3, max_objects=1, background="plain")
    assert {_num_objects(video[0]) for video in simple} == {1}
    background = ~_foreground(simple)
    # One grey everywhere but at the antialiased edges of the object.
    assert np.mean(simple[background] == 60) > 0.98
    # The first object of each video is drawn the same way: its centroid path is the same
    # in both variants wherever it is the only object of the varied video.
    single = [n for n in range(40) if all(_num_objects(varied[n, t]) == 1 for t in (0, 8, 15))]
    assert len(single) >= 5
    for c_varied, c_simple in zip(_centroids(varied[single]), _centroids(simple[single])):
        np.testing.assert_allclose(c_varied, c_simple, atol=1.0)


def test_frames_move():
    videos = generate_batch(0, range(30), 16, 32, 32, 3).astype(np.int16)
    # Every step changes some pixels, and the key frames differ clearly.
    assert (np.abs(np.diff(videos, axis=1)).max(axis=(2, 3, 4)) > 5).all()
    assert (np.abs(videos[:, -1] - videos[:, 0]).max(axis=(1, 2, 3)) > 40).all()
    # The foreground travels a good part of the frame size (32) over 16 frames.
    cy, cx = _centroids(videos)
    travel = np.hypot(np.diff(cy, axis=1), np.diff(cx, axis=1)).sum(axis=1)
    assert np.median(travel) > 10


def test_objects_bounce_off_walls():
    videos = generate_batch(3, range(150), 16, 64, 64, 3)
    # With one object the foreground centroid is that object's centre, so a sign change of its
    # velocity along an axis can only be a bounce (velocity is otherwise constant).
    single = [v for v in videos if all(_num_objects(v[t]) == 1 for t in (0, 8, 15))]
    assert len(single) >= 20
    cy, cx = _centroids(np.stack(single))
    reversed_ = np.zeros(len(single), bool)
    for c in (cy, cx):
        velocity = np.diff(c, axis=1)
        reversed_ |= (velocity.max(axis=1) > 0.5) & (velocity.min(axis=1) < -0.5)
    assert reversed_.mean() > 0.5
    # And not always: some videos are straight lines, so the number of bounces is ambiguous.
    assert reversed_.mean() < 1.0


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(channels=2), "channels"),
        (dict(channels=4), "channels"),
        (dict(height=0), "height"),
        (dict(width=-3), "width"),
        (dict(num_frames=1), "num_frames"),
        (dict(height=32.0), "height"),
        (dict(seed=-1), "seed"),
        (dict(index=-2), "index"),
        (dict(max_objects=0), "max_objects"),
        (dict(max_objects=4), "max_objects"),
        (dict(background="striped"), "background"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    args = dict(seed=0, index=0, num_frames=4, height=16, width=16, channels=3) | kwargs
    bad = repr(kwargs[name])
    with pytest.raises(ValueError, match=f"{name}.*{bad}"):
        generate_video(**args)
    args["indices"] = [args.pop("index")]
    with pytest.raises(ValueError, match=f"{name}.*{bad}"):
        generate_batch(**args)


@pytest.mark.parametrize(
    "seed, indices, shape, max_objects, background, digest",
    [
        (0, range(64), (16, 64, 64, 3), 3, "varied", "95c9e92574a3685d"),
        (0, range(32), (16, 64, 64, 1), 3, "varied", "f02c65535acedecf"),
        (7, range(2**40, 2**40 + 32), (16, 32, 32, 3), 1, "plain", "0b1eb13942df4da0"),
        (3, range(100, 140), (8, 24, 40, 3), 2, "varied", "7a55b925a46da49d"),
        (5, range(10), (3, 7, 9, 3), 3, "varied", "fa230459bd614d24"),
    ],
)
def test_the_dataset_keeps_its_videos(seed, indices, shape, max_objects, background, digest):
    """The bytes of these videos as the dataset first made them: training runs resume on,
    and held-out sets compare, the same videos only while these stay."""
    videos = generate_batch(seed, indices, *shape, max_objects=max_objects, background=background)
    assert hashlib.sha256(videos.tobytes()).hexdigest()[:16] == digest


def _synthetic_config(batch_size):
    return ml_collections.ConfigDict(
        {
            "batch_size": batch_size,
            "data": {
                "name": "synthetic",
                "seed": 3,
                "synthetic_max_objects": 3,
                "synthetic_background": "varied",
            },
            "model": {"num_frames": 4, "image_size": 16, "image_channels": 3},
        }
    )


@pytest.mark.parametrize("process_index, process_count", [(0, 1), (1, 2)])
def test_train_batch_s_is_videos_s_times_b_on(process_index, process_count):
    config = _synthetic_config(batch_size=4)
    batches = input_pipeline.train_batches(config, 5, process_index, process_count)
    local = 4 // process_count
    for step in (5, 6, 7):
        first = step * 4 + process_index * local
        expected = generate_batch(3, range(first, first + local), 4, 16, 16, 3)
        np.testing.assert_array_equal(next(batches), expected)


def test_read_ahead_keeps_the_order_and_stays_bounded():
    made, consumer = [], threading.get_ident()

    def make(index):
        assert threading.get_ident() != consumer  # off the consumer's thread
        time.sleep(0.02 * (index % 3))  # later indices may finish first
        made.append(index)
        return np.array([index])

    batches = input_pipeline.ReadAhead(make, iter(range(100)), workers=2)
    assert [int(next(batches)[0]) for _ in range(6)] == list(range(6))
    time.sleep(0.2)
    # At most 2 * workers batches made ahead of the 6 taken.
    assert len(made) <= 6 + 4 and sorted(made) == list(range(len(made)))
    batches.close()
    time.sleep(0.2)
    count = len(made)
    time.sleep(0.1)
    assert len(made) == count  # nothing more is made after close()
    assert [int(b[0]) for b in input_pipeline.ReadAhead(make, range(3), workers=3)] == [0, 1, 2]


def test_read_ahead_raises_what_making_a_batch_raised():
    def make(index):
        if index == 2:
            raise ValueError("bad video 2")
        return np.array([index])

    batches = input_pipeline.ReadAhead(make, range(5), workers=2)
    assert [int(next(batches)[0]) for _ in range(2)] == [0, 1]
    with pytest.raises(ValueError, match="bad video 2"):
        next(batches)
    batches.close()
