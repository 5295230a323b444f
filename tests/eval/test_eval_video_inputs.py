"""Reading user videos: folders of GIF/MP4 files, arrays, and the checks on them."""

import av
import numpy as np
import pytest
from PIL import Image

from inbetweening.eval import video_inputs


def _write_gif(path, frames):
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40)


def _write_mp4(path, frames):
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def test_folder_of_gifs_and_mp4(tmp_path, rng):
    # Flat colours survive GIF palettes and MPEG-4 compression almost exactly.
    colours = rng.integers(0, 256, (2, 9, 1, 1, 3), dtype=np.uint8)
    videos = np.broadcast_to(colours, (2, 9, 32, 48, 3)).copy()
    _write_gif(tmp_path / "a.gif", videos[0])
    _write_mp4(tmp_path / "b.mp4", videos[1])
    (tmp_path / "notes.txt").write_text("not a video")
    loaded = video_inputs.load_videos(str(tmp_path), "--real=x")
    assert loaded.shape == (2, 9, 32, 48, 3) and loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded[0], videos[0])
    assert np.abs(loaded[1].astype(int) - videos[1]).mean() < 8


def test_folder_with_different_shapes_names_the_file(tmp_path, rng):
    _write_gif(tmp_path / "a.gif", rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    _write_gif(tmp_path / "b.gif", rng.integers(0, 256, (3, 16, 24, 3), dtype=np.uint8))
    with pytest.raises(video_inputs.VideoInputError, match=r"b\.gif.*differs"):
        video_inputs.load_videos(str(tmp_path), "--real=x")


def test_npz_and_value_checks(tmp_path):
    np.savez(tmp_path / "two.npz", first=np.zeros((2, 9, 8, 8, 3), np.uint8), second=np.zeros(3))
    with pytest.raises(video_inputs.VideoInputError, match="'videos'"):
        video_inputs.load_videos(str(tmp_path / "two.npz"), "--real=two.npz")
    np.save(tmp_path / "ints.npy", np.zeros((2, 9, 8, 8, 3), np.int32))
    with pytest.raises(video_inputs.VideoInputError, match="int32"):
        video_inputs.load_videos(str(tmp_path / "ints.npy"), "--real=ints.npy")
    np.save(tmp_path / "float.npy", np.full((2, 9, 8, 8, 1), -0.5, np.float64))
    loaded = video_inputs.load_videos(str(tmp_path / "float.npy"), "--real=float.npy")
    assert loaded.dtype == np.float32


def test_single_video(tmp_path, rng):
    np.save(tmp_path / "one.npy", rng.integers(0, 256, (9, 8, 8, 3), dtype=np.uint8))
    assert video_inputs.load_videos(str(tmp_path / "one.npy"), "v", single_video=True).shape == (
        1,
        9,
        8,
        8,
        3,
    )
    np.save(tmp_path / "two.npy", np.zeros((2, 9, 8, 8, 3), np.uint8))
    with pytest.raises(video_inputs.VideoInputError, match="give one"):
        video_inputs.load_videos(str(tmp_path / "two.npy"), "v", single_video=True)
