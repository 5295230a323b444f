"""The Inbetweener API and the sample CLI on a tiny untrained checkpoint."""

import logging

import av
import numpy as np
import pytest
from PIL import Image

from inbetweening.api import CheckpointNotFoundError, Inbetweener, KeyFrameError
from inbetweening.data.pixels import convert_channels
from inbetweening.sample import ENCODERS

from command_lines import run_module

NUM_FRAMES, SIZE = 16, 16


@pytest.fixture(scope="module")
def key_frame_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key_frames")
    rng = np.random.default_rng(0)
    paths = {}
    for name, shape in (
        ("start", (SIZE, SIZE, 3)),
        ("end", (SIZE, SIZE, 3)),
        ("wide", (24, 40, 3)),
        ("wide_end", (24, 40, 3)),
        ("gray", (SIZE, SIZE)),
    ):
        paths[name] = str(folder / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(paths[name])
    paths["text"] = str(folder / "notes.png")
    with open(paths["text"], "w") as handle:
        handle.write("not an image")
    return paths


def test_sample_keeps_the_key_frames_and_varies_with_the_seed(tiny_workdir):
    model = Inbetweener.load(tiny_workdir)
    rng = np.random.default_rng(1)
    start, end = (rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(2))
    videos = model.sample(start, end, num_samples=3, seed=0)
    assert videos.shape == (3, NUM_FRAMES, SIZE, SIZE, 3) and videos.dtype == np.uint8
    np.testing.assert_array_equal(videos[:, 0], np.broadcast_to(start, (3, SIZE, SIZE, 3)))
    np.testing.assert_array_equal(videos[:, -1], np.broadcast_to(end, (3, SIZE, SIZE, 3)))
    np.testing.assert_array_equal(model.sample(start, end, 3, seed=0), videos)
    assert not np.array_equal(model.sample(start, end, 3, seed=1), videos)
    as_float = model.sample(start.astype(np.float32), Image.fromarray(end), 3, seed=0)
    np.testing.assert_array_equal(as_float, videos)


def test_key_frames_of_another_size_are_cropped_and_resized(tiny_workdir, key_frame_files, caplog):
    model = Inbetweener.load(tiny_workdir)
    with caplog.at_level(logging.INFO, logger="absl"):
        videos = model.sample(key_frame_files["wide"], key_frame_files["wide_end"])
    assert videos.shape == (1, NUM_FRAMES, SIZE, SIZE, 3)
    assert "Key frames are 40x24: centre-cropped and resized to 16x16" in caplog.text


def test_key_frames_in_another_colour_mode_are_converted(tiny_workdir, key_frame_files, caplog):
    model = Inbetweener.load(tiny_workdir)
    with caplog.at_level(logging.INFO, logger="absl"):
        videos = model.sample(key_frame_files["gray"], key_frame_files["end"])
    assert "The start key frame has 1 channels: converted to the model's 3" in caplog.text
    with Image.open(key_frame_files["gray"]) as gray:
        np.testing.assert_array_equal(videos[0, 0], np.asarray(gray.convert("RGB")))
    rgba = np.random.default_rng(2).integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)
    np.testing.assert_array_equal(model.sample(rgba, rgba)[0, 0], rgba[..., :3])
    with pytest.raises(KeyFrameError, match="has 5 channels; expected 1"):
        model.sample(np.zeros((SIZE, SIZE, 5), np.uint8), rgba)


def test_rgb_to_gray_agrees_with_pil():
    rgb = np.random.default_rng(3).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))[..., None]
    np.testing.assert_array_equal(convert_channels(rgb, 1), expected)
    np.testing.assert_array_equal(convert_channels(expected, 3), np.repeat(expected, 3, -1))


@pytest.mark.parametrize(
    "start,end,message",
    [
        ("missing", "end", "no such file"),
        ("text", "end", "not a readable image"),
        ("start", "wide", "differ in size"),
    ],
)
def test_bad_key_frames_are_named(tiny_workdir, key_frame_files, start, end, message):
    model = Inbetweener.load(tiny_workdir)
    paths = {**key_frame_files, "missing": "/nonexistent/frame.png"}
    with pytest.raises(KeyFrameError, match=message):
        model.sample(paths[start], paths[end])


def test_load_refuses_a_directory_without_checkpoints(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="neither a work directory"):
        Inbetweener.load(tmp_path)


def _sample_cli(*args, env=None):
    return run_module("inbetweening.sample", *args, env=env)


def test_cli_writes_a_gif(tiny_workdir, key_frame_files, tmp_path):
    out = tmp_path / "out.gif"
    result = _sample_cli(
        f"--model={tiny_workdir}",
        f"--start={key_frame_files['start']}",
        f"--end={key_frame_files['end']}",
        "--num_samples=2",
        f"--out={out}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(out) as gif:
        assert gif.n_frames == NUM_FRAMES
        assert gif.size == (2 * (SIZE + 2) + 2, SIZE + 4)  # 2 samples, 2-pixel borders
    # The checkpoint library's INFO lines only on request.
    assert "orbax" not in result.stderr.lower(), result.stderr
    # The flag's old name, kept for one release, with a warning.
    verbose = _sample_cli(
        f"--checkpoint={tiny_workdir}",
        f"--start={key_frame_files['start']}",
        f"--end={key_frame_files['end']}",
        f"--out={tmp_path / 'again.gif'}",
        env={"INBETWEENING_VERBOSE": "1"},
    )
    assert verbose.returncode == 0 and "orbax" in verbose.stderr.lower()
    assert "--checkpoint is now --model" in verbose.stderr


def test_mp4_and_png_contact_sheet(tmp_path):
    videos = np.random.default_rng(0).integers(
        0, 256, (3, NUM_FRAMES, SIZE, SIZE, 3), dtype=np.uint8
    )
    (tmp_path / "out.mp4").write_bytes(ENCODERS[".mp4"](videos))
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == NUM_FRAMES
    (tmp_path / "out.png").write_bytes(ENCODERS[".png"](videos))
    with Image.open(tmp_path / "out.png") as sheet:  # 3 rows of 16 frames
        assert sheet.size == (NUM_FRAMES * (SIZE + 2) + 2, 3 * (SIZE + 2) + 2)


def test_cli_bad_input_exits_2_without_output(tiny_workdir, key_frame_files, tmp_path):
    out = tmp_path / "out.gif"
    result = _sample_cli(
        f"--model={tiny_workdir}",
        f"--start={key_frame_files['text']}",
        f"--end={key_frame_files['end']}",
        f"--out={out}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: start key frame")
    assert not out.exists()


def _frames(count: int, height: int = SIZE, width: int = SIZE, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("noise", ["independent", "shared"])
def test_a_sequence_passes_through_every_key_frame(tiny_workdir, noise):
    model = Inbetweener.load(tiny_workdir)
    frames = _frames(4)
    videos = model.sample_sequence(frames, num_samples=2, seed=3, segment_noise=noise)
    assert videos.shape == (2, 3 * (NUM_FRAMES - 1) + 1, SIZE, SIZE, 3)
    for index, frame in enumerate(frames):
        np.testing.assert_array_equal(videos[:, index * (NUM_FRAMES - 1)], [frame, frame])
    # The option's old name, kept for one release, with a warning.
    with pytest.warns(DeprecationWarning, match="segment_noise"):
        np.testing.assert_array_equal(model.sample_sequence(frames, 2, seed=3, noise=noise), videos)
    assert not np.array_equal(model.sample_sequence(frames, 2, seed=4, segment_noise=noise), videos)
    # Two key frames: the same video as sample() for the same seed.
    np.testing.assert_array_equal(
        model.sample_sequence(frames[:2], 2, seed=3, segment_noise=noise),
        model.sample(*frames[:2], 2, 3),
    )


def test_shared_noise_repeats_a_segment_for_the_same_key_frames(tiny_workdir):
    model = Inbetweener.load(tiny_workdir)
    a, b = _frames(2)
    segment = NUM_FRAMES - 1
    shared = model.sample_sequence([a, b, a, b], 1, seed=0, segment_noise="shared")[0]
    np.testing.assert_array_equal(shared[:segment], shared[2 * segment : 3 * segment])
    independent = model.sample_sequence([a, b, a, b], 1, seed=0)[0]
    assert not np.array_equal(independent[:segment], independent[2 * segment : 3 * segment])


@pytest.mark.parametrize(
    "frames,size,message",
    [
        (_frames(1), "model", "at least 2 key frames, got 1"),
        (_frames(2, 24, 40) + _frames(1, 24, 32), "native", "key frame 3 is 32x24"),
        (_frames(2, 20, 40), "native", "multiples of 8.*nearest valid size is 40x24"),
        (_frames(2), "huge", "size='huge'"),
    ],
)
def test_bad_sequences_are_named(tiny_workdir, frames, size, message):
    with pytest.raises(KeyFrameError, match=message):
        Inbetweener.load(tiny_workdir).sample_sequence(frames, size=size)


def test_native_size_keeps_the_key_frames_size(tiny_workdir):
    model = Inbetweener.load(tiny_workdir)
    start, end = _frames(2, 24, 40)
    videos = model.sample(start, end, 2, seed=1, size="native")
    assert videos.shape == (2, NUM_FRAMES, 24, 40, 3)
    np.testing.assert_array_equal(videos[:, 0], [start, start])
    sequence = model.sample_sequence(_frames(3, 24, 40), 1, size="native")
    assert sequence.shape == (1, 2 * (NUM_FRAMES - 1) + 1, 24, 40, 3)
    # At the training size, native and model are the same path.
    start, end = _frames(2)
    np.testing.assert_array_equal(
        model.sample(start, end, 2, size="native"), model.sample(start, end, 2, size="model")
    )


def test_cli_writes_one_video_through_a_folder_of_key_frames(tiny_workdir, tmp_path):
    folder = tmp_path / "story"
    folder.mkdir()
    for index, frame in enumerate(_frames(3)):
        Image.fromarray(frame).save(folder / f"{index:02d}.png")
    out = tmp_path / "story.gif"
    result = _sample_cli(
        f"--model={tiny_workdir}",
        f"--key_frames={folder}",
        "--segment_noise=shared",
        "--num_samples=1",
        f"--out={out}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(out) as gif:
        assert gif.n_frames == 2 * (NUM_FRAMES - 1) + 1


def test_cli_native_size_names_the_nearest_valid_size(tiny_workdir, key_frame_files, tmp_path):
    odd = tmp_path / "odd.png"
    Image.fromarray(_frames(1, 20, 44)[0]).save(odd)
    result = _sample_cli(
        f"--model={tiny_workdir}",
        f"--key_frames={odd},{odd}",
        "--size=native",
        f"--out={tmp_path / 'out.gif'}",
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "44x20" in last and "nearest valid size is 48x24" in last, last
    assert not (tmp_path / "out.gif").exists()
