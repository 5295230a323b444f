"""Draws docs/samples.png: held-out synthetic videos with bounces between their key frames
(rows: the real video, then 4 samples of the shipped model for its first and last frame,
every other frame). Run from the repository root:

    .venv/bin/python docs/samples_picture.py
"""

import numpy as np

from configs import demo
from inbetweening.api import Inbetweener
from inbetweening.data import input_pipeline
from inbetweening.storage.media import png_bytes, video_grid
from inbetweening.storage.paths import write_atomically

# Held-out videos 0 and 25: objects that bounce off the walls between the key frames (4 and
# 2 bounces), where the samples' paths differ most.
VIDEOS, SAMPLES, ZOOM = (0, 25), 4, 3


def main() -> None:
    real = input_pipeline.held_out_videos(demo.get_config(), max(VIDEOS) + 1)
    model = Inbetweener.load("pretrained/synthetic_demo")
    rows = []
    for index in VIDEOS:
        video = real[index]
        samples = model.sample(video[0], video[-1], num_samples=SAMPLES, seed=index)
        rows.extend([video, *samples])
    frames = np.stack(rows)[:, ::2].repeat(ZOOM, axis=2).repeat(ZOOM, axis=3)
    write_atomically("docs/samples.png", png_bytes(video_grid(frames[:, :, None])[0]))
    print("docs/samples.png")


if __name__ == "__main__":
    main()
