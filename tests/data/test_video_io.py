"""Decoding and the stored preprocessing (centre crop, antialiased resize)."""

import numpy as np
import pytest

from inbetweening.data import video_io

import data_fixture_writers


def test_crop_keeps_the_centre_square_and_resizes():
    video = data_fixture_writers.striped_video(3, 32, 48)
    resized = video_io.crop_square_and_resize(video, 16)
    assert resized.shape == (3, 16, 16, 3) and resized.dtype == np.uint8
    expected = np.broadcast_to((90 + np.arange(3))[:, None, None, None], resized.shape)
    np.testing.assert_array_equal(resized, expected)


def test_resize_is_antialiased():
    # A one-pixel checkerboard aliases to black or white without a low-pass filter.
    checkerboard = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    resized = video_io.crop_square_and_resize(checkerboard[None, :, :, None], 16)
    assert resized.shape == (1, 16, 16, 1)
    assert np.all(np.abs(resized.astype(int) - 128) < 20)


@pytest.mark.parametrize("channels", [1, 3])
def test_read_video_gives_frames_of_the_requested_channels(tmp_path, channels):
    path = str(tmp_path / "clip.avi")
    data_fixture_writers.write_video(
        path, data_fixture_writers.constant_video(17, 24, 32, channels)
    )
    video = video_io.read_video(path, channels)
    assert video.shape == (17, 24, 32, channels) and video.dtype == np.uint8
    assert np.abs(video.astype(int) - 128).max() <= 3  # Lossy codec.


def test_unreadable_video_raises(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(video_io.UnreadableVideoError):
        video_io.read_video(str(path), 3)


def test_split_into_clips_drops_the_tail():
    clips = video_io.split_into_clips(np.zeros((40, 2, 2, 1), np.uint8), 16)
    assert [len(clip) for clip in clips] == [16, 16]
