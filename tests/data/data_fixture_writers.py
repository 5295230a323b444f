"""Writers of tiny source datasets in the real formats: TFRecords, avi/mp4/webm/gif, zip, tar."""

import os
import shutil
import tarfile
import zipfile

import av
import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from inbetweening.data import builders
from inbetweening.runtime import command_line

tf = command_line.import_tensorflow()

# BAIR records written per file, keyed by the file's name; their sequence numbers are
# the name's A plus the position, so the split boundaries 255/256 and 2559/2560 fall
# inside files and the expected splits below follow.
BAIR_RECORDS = {
    "test/traj_0_to_255.tfrecords": 2,
    "train/traj_254_to_509.tfrecords": 3,
    "train/traj_2558_to_2813.tfrecords": 3,
    "train/traj_43520_to_43775.tfrecords": 1,
}
BAIR_SPLITS = {"test": [0, 1, 254, 255], "validation": [256, 2558, 2559], "train": [2560, 43520]}


def bair_frame(sequence_number: int, frame: int, camera: str) -> np.ndarray:
    """[64, 64, 3]: red/green spell the sequence number, blue the frame and the camera."""
    blue = frame * 8 if camera == "image_aux1" else 255 - frame * 8
    pixel = [sequence_number % 256, sequence_number // 256, blue]
    return np.broadcast_to(np.array(pixel, np.uint8), (64, 64, 3))


def bair_record(sequence_number: int) -> bytes:
    feature = {}
    for frame in range(30):
        for camera in ("image_aux1", "image_main"):
            encoded = bair_frame(sequence_number, frame, camera).tobytes()
            feature[f"{frame}/{camera}/encoded"] = tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[encoded])
            )
        feature[f"{frame}/action"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=[0.0] * 4)
        )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_bair_archive(directory: str) -> str:
    """bair_robot_pushing_dataset_v0.tar: softmotion30_44k/{train,test}/traj_A_to_B.tfrecords."""
    root = os.path.join(directory, "softmotion30_44k")
    for name, count in BAIR_RECORDS.items():
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        first = int(name.split("_")[1])
        with tf.io.TFRecordWriter(os.path.join(root, name)) as writer:
            for position in range(count):
                writer.write(bair_record(first + position))
    archive = os.path.join(directory, "bair_robot_pushing_dataset_v0.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname="softmotion30_44k")
    shutil.rmtree(root)  # So that preparing reads the archive, not the folder.
    return archive


def write_video(path: str, video: np.ndarray, codec: str = "mpeg4") -> None:
    """Encodes uint8 `[T, H, W, C]` (C = 1 or 3) with PyAV at 25 fps."""
    _, height, width, channels = video.shape
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in video:
            picture = (
                av.VideoFrame.from_ndarray(frame[..., 0], format="gray")
                if channels == 1
                else av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            )
            container.mux(stream.encode(picture))
        container.mux(stream.encode())


def constant_video(
    num_frames: int, height: int, width: int, channels: int, value: int = 128
) -> np.ndarray:
    return np.full((num_frames, height, width, channels), value, np.uint8)


# KTH videos in the fixture: (file name, frames); None frames means a corrupt file.
KTH_VIDEOS = {
    "walking": [("person15_walking_d1_uncomp.avi", 40), ("person16_walking_d2_uncomp.avi", 33)],
    "jogging": [("person17_jogging_d3_uncomp.avi", 16)],
    "running": [("person25_running_d4_uncomp.avi", 10)],
    "boxing": [("person15_boxing_d1_uncomp.avi", 20)],
    "handwaving": [("person25_handwaving_d1_uncomp.avi", 16)],
    "handclapping": [("person17_handclapping_d1_uncomp.avi", None)],
}


def write_kth_zips(directory: str) -> None:
    """The six ACTION.zip archives of 160x120 grayscale personNN_ACTION_dK_uncomp.avi files."""
    for action, videos in KTH_VIDEOS.items():
        with zipfile.ZipFile(os.path.join(directory, f"{action}.zip"), "w") as archive:
            for name, num_frames in videos:
                video_path = os.path.join(directory, name)
                if num_frames is None:
                    with open(video_path, "wb") as corrupt:
                        corrupt.write(b"RIFF\x00\x00\x00\x00AVI not really a video")
                else:
                    write_video(video_path, constant_video(num_frames, 120, 160, 1, value=200))
                archive.write(video_path, arcname=name)
                os.remove(video_path)


UCF_CLASSES = ("ApplyEyeMakeup", "Biking")


def write_ucf101(directory: str) -> tuple[list[str], list[str]]:
    """An extracted UCF-101/ tree and the split-list zip; returns (trainlist01, testlist01)."""
    train_list, test_list = [], []
    for label, class_name in enumerate(UCF_CLASSES, start=1):
        os.makedirs(os.path.join(directory, "UCF-101", class_name))
        for group in range(1, 12):
            name = f"{class_name}/v_{class_name}_g{group:02d}_c01.avi"
            write_video(os.path.join(directory, "UCF-101", name), constant_video(17, 24, 32, 3))
            (test_list if group == 1 else train_list).append(name)
    with zipfile.ZipFile(
        os.path.join(directory, "UCF101TrainTestSplits-RecognitionTask.zip"), "w"
    ) as archive:
        archive.writestr(
            "ucfTrainTestlist/trainlist01.txt",
            "".join(f"{name} {UCF_CLASSES.index(name.split('/')[0]) + 1}\n" for name in train_list),
        )
        archive.writestr("ucfTrainTestlist/testlist01.txt", "".join(f"{n}\n" for n in test_list))
        archive.writestr(
            "ucfTrainTestlist/classInd.txt",
            "".join(f"{i} {c}\n" for i, c in enumerate(UCF_CLASSES, start=1)),
        )
    return train_list, test_list


def striped_video(num_frames: int, height: int, width: int) -> np.ndarray:
    """RGB `[T, H, W, 3]`: 90 + frame in the centre square, 255 in the bands a crop removes.

    The frames differ so that GIF writers keep them all.
    """
    video = np.full((num_frames, height, width, 3), 255, np.uint8)
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    video[:, top : top + side, left : left + side] = (90 + np.arange(num_frames, dtype=np.uint8))[
        :, None, None, None
    ]
    return video


# The user folder: readable videos by relative path, with their frame counts.
USER_VIDEOS = {
    "clips/a.mp4": 20,
    "b.avi": 18,
    "c.gif": 17,
    "d.webm": 19,
    "frames_png": 18,
    "nested/frames_jpg": 16,
}
USER_BAD_FILES = ("corrupt.mp4", "short.avi")


def write_user_folder(directory: str) -> None:
    """Mixed video files and frame folders, 48x32 frames; one corrupt and one short video."""
    os.makedirs(os.path.join(directory, "clips"))
    write_video(os.path.join(directory, "clips/a.mp4"), striped_video(20, 32, 48), codec="libx264")
    write_video(os.path.join(directory, "b.avi"), striped_video(18, 32, 48))
    write_video(os.path.join(directory, "d.webm"), striped_video(19, 32, 48), codec="libvpx")
    write_video(os.path.join(directory, "short.avi"), striped_video(5, 32, 48))
    gif_frames = [Image.fromarray(frame) for frame in striped_video(17, 32, 48)]
    gif_frames[0].save(
        os.path.join(directory, "c.gif"), save_all=True, append_images=gif_frames[1:], duration=40
    )
    for folder, extension, count in (("frames_png", "png", 18), ("nested/frames_jpg", "jpg", 16)):
        os.makedirs(os.path.join(directory, folder))
        for index, frame in enumerate(striped_video(count, 32, 48)):
            Image.fromarray(frame).save(os.path.join(directory, folder, f"{index:04d}.{extension}"))
    with open(os.path.join(directory, "corrupt.mp4"), "wb") as corrupt:
        corrupt.write(os.urandom(2000))


def prepare_as_before(name: str, data_dir: str, manual_dir: str) -> builders.common.VideoBuilder:
    """`name` prepared as the versions before random access did: TFRecord files only."""
    builder = builders.make_builder(name, data_dir, 64)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
    )
    return builder
