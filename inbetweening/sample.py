"""In-betweens of key frames, written as an animation or a contact sheet.

python -m inbetweening.sample --model=WORKDIR_OR_EXPORT --start=a.png --end=b.png \
    --num_samples=8 --seed=0 --out=out.gif
python -m inbetweening.sample --model=... --key_frames=a.png,b.png,c.png --out=out.mp4
python -m inbetweening.sample --model=... --key_frames=FOLDER --segment_noise=shared ...

With --key_frames (a comma-separated list, or a folder of images in file-name order) one
video passes through every key frame. --size=native runs the generator at the key frames'
own size (multiples of 8) instead of cropping and resizing them to the training size.
--out's suffix picks the format: .gif or .mp4 (the samples side by side, animated) or .png
(a contact sheet: one row per sample, one column per frame).
"""

import io
import os
import sys

import numpy as np
from absl import app, flags

from inbetweening.api import (
    SEGMENT_NOISE,
    SIZES,
    CheckpointNotFoundError,
    Inbetweener,
    KeyFrameError,
)
from inbetweening.data.video_io import FRAME_EXTENSIONS
from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error
from inbetweening.storage.media import GIF_FRAME_MS, gif_bytes, png_bytes, video_grid
from inbetweening.storage.paths import user_path, write_atomically

FLAGS = flags.FLAGS

MP4_CODEC = "libx264"
# Old flag names, kept for one release: {old: new}.
RENAMED_FLAGS = {"checkpoint": "model"}


def side_by_side(videos: np.ndarray) -> np.ndarray:
    """uint8 [N, T, H, W, C] -> one video [T, H', W', C] with the N samples in a row."""
    return video_grid(videos[None])


def contact_sheet(videos: np.ndarray) -> np.ndarray:
    """uint8 [N, T, H, W, C] -> one image [H', W', C]: row n holds sample n's frames."""
    return video_grid(videos[:, :, None])[0]


def mp4_bytes(video: np.ndarray) -> bytes:
    """uint8 [T, H, W, C] -> H.264 in MP4 at the GIFs' frame rate."""
    import av  # as in data/video_io.read_video: only where an MP4 is written

    if video.shape[-1] == 1:
        video = np.repeat(video, 3, axis=-1)
    # yuv420p needs even sides: pad with the grid's white border colour.
    pad_h, pad_w = video.shape[1] % 2, video.shape[2] % 2
    video = np.pad(video, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=255)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(MP4_CODEC, rate=1000 // GIF_FRAME_MS)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


ENCODERS = {
    ".gif": lambda videos: gif_bytes(side_by_side(videos)),
    ".mp4": lambda videos: mp4_bytes(side_by_side(videos)),
    ".png": lambda videos: png_bytes(contact_sheet(videos)),
}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    command_line.resolve_renamed_flags(RENAMED_FLAGS)
    suffix = os.path.splitext(FLAGS.out)[1].lower()
    if suffix not in ENCODERS:
        _exit_with_user_error(f"--out={FLAGS.out}: the suffix must be one of {', '.join(ENCODERS)}")
    if bool(FLAGS.key_frames) == bool(FLAGS.start or FLAGS.end):
        _exit_with_user_error("give either --start and --end, or --key_frames")
    if not FLAGS.key_frames and not (FLAGS.start and FLAGS.end):
        _exit_with_user_error("--start and --end go together")
    try:
        model = Inbetweener.load(FLAGS.model)
        if FLAGS.key_frames:
            videos = model.sample_sequence(
                key_frame_paths(FLAGS.key_frames),
                FLAGS.num_samples,
                FLAGS.seed,
                segment_noise=FLAGS.segment_noise,
                size=FLAGS.size,
            )
        else:
            videos = model.sample(
                FLAGS.start, FLAGS.end, FLAGS.num_samples, FLAGS.seed, size=FLAGS.size
            )
    except (CheckpointNotFoundError, KeyFrameError) as error:
        _exit_with_user_error(str(error))
    write_atomically(FLAGS.out, ENCODERS[suffix](videos))
    print(f"{FLAGS.num_samples} videos of {videos.shape[1]} frames: {FLAGS.out}")


def key_frame_paths(text: str) -> list[str]:
    """--key_frames: a folder (its images in file-name order) or a comma-separated list."""
    folder = user_path(text)
    if folder.is_dir():
        paths = sorted(p for p in folder.iterdir() if p.name.lower().endswith(FRAME_EXTENSIONS))
        if not paths:
            raise KeyFrameError(
                f"--key_frames={text} holds no {', '.join(FRAME_EXTENSIONS)} images"
            )
        return [str(path) for path in paths]
    return [path for path in text.split(",") if path]


def _exit_with_user_error(message: str) -> None:
    sys.exit(user_error(message))


def define_flags() -> None:
    """Only when run as a program, so that importing this module defines no flags."""
    flags.DEFINE_string("model", None, "A training work directory or a params export.")
    command_line.define_renamed_flags(RENAMED_FLAGS)
    flags.DEFINE_string("start", None, "Image file of the first key frame.")
    flags.DEFINE_string("end", None, "Image file of the last key frame.")
    flags.DEFINE_string(
        "key_frames",
        None,
        "Instead of --start/--end: key frames a.png,b.png,... or a folder of them "
        "(file-name order); one video passes through all of them.",
    )
    flags.DEFINE_enum(
        "segment_noise",
        "independent",
        list(SEGMENT_NOISE),
        "With --key_frames: a new noise vector per segment, or one shared by all.",
    )
    flags.DEFINE_enum(
        "size",
        "model",
        list(SIZES),
        "model: key frames cropped and resized to the training size; native: the "
        "generator runs at their own size (multiples of 8).",
    )
    flags.DEFINE_integer("num_samples", 8, "In-betweens to draw.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the noise vectors u.")
    flags.DEFINE_string("out", None, "Output file: .gif, .mp4 or .png.")
    flags.mark_flags_as_required(["out"])


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.sample`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
