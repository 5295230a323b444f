"""KTH: grayscale 16-frame clips, splits by person, unreadable and short videos skipped."""

import numpy as np

from inbetweening.data import builders


def test_clips_splits_and_labels(prepared):
    data_dir, summary = prepared("kth")
    # person15 walking (40 frames: 2 clips) and boxing (20: 1); person16 walking (33: 2);
    # person17 jogging (16: 1), person25 handwaving (16: 1).
    assert summary.split_sizes == {"train": 3, "validation": 2, "test": 2}
    builder = builders.make_builder("kth", data_dir, 64)
    action_name = builder.info.features["action"].int2str
    found = set()
    for split in ("train", "validation", "test"):
        for example in builder.as_data_source(split):
            video = np.asarray(example["video"])
            assert video.shape == (16, 64, 64, 1) and video.dtype == np.uint8
            assert abs(float(video.mean()) - 200) < 4
            found.add(
                (
                    split,
                    int(example["person"]),
                    action_name(example["action"]),
                    int(example["scenario"]),
                    int(example["clip_index"]),
                )
            )
    assert found == {
        ("train", 15, "walking", 1, 0),
        ("train", 15, "walking", 1, 1),
        ("train", 15, "boxing", 1, 0),
        ("validation", 16, "walking", 2, 0),
        ("validation", 16, "walking", 2, 1),
        ("test", 17, "jogging", 3, 0),
        ("test", 25, "handwaving", 1, 0),
    }


def test_corrupt_and_short_videos_are_skipped_by_name(prepared):
    _, summary = prepared("kth")
    assert sorted(path.rsplit("/", 1)[-1] for path in summary.skipped_files) == [
        "person17_handclapping_d1_uncomp.avi",
        "person25_running_d4_uncomp.avi",
    ]
