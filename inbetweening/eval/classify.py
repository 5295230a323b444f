"""The top-5 Kinetics-400 classes of a video by the FVD's I3D: a check that the network
and its weights see what a person sees.

    python -m inbetweening.eval.classify --video=PATH    # a video file or .npy/.npz [T, H, W, C]
"""

import jax
import numpy as np
from absl import flags

from inbetweening.eval import i3d, i3d_weights, preprocess, video_inputs
from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error

NUM_TOP_CLASSES = 5


def main(argv: list[str]) -> int:
    if len(argv) > 1 or not FLAGS.video:
        return user_error("usage: python -m inbetweening.eval.classify --video=PATH")
    name = f"--video={FLAGS.video}"
    try:
        video = video_inputs.load_videos(FLAGS.video, name, single_video=True)
        if i3d.num_pooled_frames(video.shape[1]) < 1:
            raise video_inputs.VideoInputError(
                f"{name}: {video.shape[1]} frames are too few for I3D"
            )
        variables = i3d_weights.load_i3d_variables()
    except (video_inputs.VideoInputError, i3d_weights.I3DWeightsError) as e:
        return user_error(str(e))
    classify = jax.jit(lambda v, x: i3d.I3D().apply(v, preprocess.to_i3d_input(x))[0])
    logits = np.asarray(classify(variables, video))
    labels = i3d.kinetics400_labels()
    for index in np.argsort(-logits)[:NUM_TOP_CLASSES]:
        print(f"{logits[index]:9.4f}  {labels[index]}")
    return 0


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("video", None, "A video file (.gif/.mp4/...) or .npy/.npz [T, H, W, C].")


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.eval.classify`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
