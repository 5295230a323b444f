"""What the dataset builders share: their config, finding source archives, skipped files.

Every builder stores videos as `tfds.features.Video` (uint8 `[T, S, S, C]`, one PNG per
frame, so the input pipeline can decode only the frames it samples) and records the
files it skipped in `info.metadata["skipped_files"]`.
"""

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from tensorflow_datasets.core.download import extractor

from inbetweening.data import video_io

# The paper's sub-sequence length: a video with fewer frames cannot give one example.
MIN_FRAMES = 16
DEFAULT_IMAGE_SIZE = 64
SPLITS = ("train", "validation", "test")


class SourceFilesMissingError(FileNotFoundError):
    """A source archive is neither in the manual directory nor downloadable."""


class SourceFileCorruptError(SourceFilesMissingError):
    """A source archive is there but cannot be read, e.g. a partial download."""


class _DatasetInfo(tfds.core.DatasetInfo):
    """TFDS's DatasetInfo without its lookup in TFDS's bucket of precomputed metadata: these
    datasets are never there, and the lookup leaves an empty temporary folder behind each
    time a builder starts on a dataset not prepared yet (tensorflow-datasets 4.9.10)."""

    def initialize_from_bucket(self) -> None:
        pass


@dataclasses.dataclass(eq=False)
class VideoBuilderConfig(tfds.core.BuilderConfig):
    """`image_size`: side of the stored square frames."""

    image_size: int = DEFAULT_IMAGE_SIZE


def config_for_size(image_size: int) -> VideoBuilderConfig:
    return VideoBuilderConfig(name=f"{image_size}px", image_size=image_size)


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One published archive, and the folder it extracts to (accepted in its place)."""

    archive_name: str
    url: str
    extracted_name: str | None = None

    def describe(self) -> str:
        alternative = (
            f" (or the folder {self.extracted_name}/ extracted from it)"
            if self.extracted_name
            else ""
        )
        return f"{self.archive_name}{alternative}  from {self.url}"


class VideoBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the video builders: locates sources, counts skipped files."""

    VERSION = tfds.core.Version("1.0.0")
    SOURCES: tuple[SourceFile, ...] = ()
    # Feature names that hold videos; the input pipeline reads one of them.
    VIDEO_KEYS: tuple[str, ...] = ("video",)
    CHANNELS = 3

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.SOURCES:
            cls.MANUAL_DOWNLOAD_INSTRUCTIONS = expected_sources_message(cls.SOURCES, "--manual_dir")

    def __init__(self, **kwargs):
        kwargs.setdefault("config", config_for_size(DEFAULT_IMAGE_SIZE))
        super().__init__(**kwargs)
        self.skipped_files: list[str] = []

    @property
    def image_size(self) -> int:
        return self.builder_config.image_size

    def _skip(self, name: str, reason: str) -> None:
        # Files read by more than one split would otherwise be counted once per split.
        if name in self.skipped_files:
            return
        logging.warning("Skipping %s: %s", name, reason)
        self.skipped_files.append(name)
        self.info.metadata["skipped_files"] = list(self.skipped_files)

    def _read_usable_video(self, path: pathlib.Path) -> np.ndarray | None:
        """The video file or frame folder at `path`, cropped and resized: uint8
        [T, S, S, C]; None (and a warning, counted in the summary) when it cannot be decoded
        or has fewer than MIN_FRAMES frames."""
        try:
            video = (
                video_io.read_frame_folder(path, self.CHANNELS)
                if path.is_dir()
                else video_io.read_video(path, self.CHANNELS)
            )
        except video_io.UnreadableVideoError as error:
            self._skip(str(path), str(error))
            return None
        if len(video) < MIN_FRAMES:
            self._skip(str(path), f"{len(video)} frames, fewer than {MIN_FRAMES}")
            return None
        return video_io.crop_square_and_resize(video, self.image_size)

    def _video_feature(self, length: int | None) -> tfds.features.Video:
        return tfds.features.Video(shape=(length, self.image_size, self.image_size, self.CHANNELS))

    def _dataset_info(
        self, features: dict, description: str, homepage: str
    ) -> tfds.core.DatasetInfo:
        return _DatasetInfo(
            builder=self,
            description=description,
            homepage=homepage,
            features=tfds.features.FeaturesDict(features),
            metadata=tfds.core.MetadataDict(skipped_files=[]),
        )

    def _locate_sources(self, dl_manager) -> dict[str, pathlib.Path]:
        """Path of each source, by archive name: an extracted folder, or the archive itself.

        Sources come from the manual directory when it holds anything, else are downloaded.
        """
        try:
            manual_dir = pathlib.Path(dl_manager.manual_dir)
        except AssertionError:  # TFDS's way of saying: no manual directory, or an empty one.
            return self._download(dl_manager)
        return find_sources(self.SOURCES, manual_dir)

    def _download(self, dl_manager) -> dict[str, pathlib.Path]:
        urls = {source.archive_name: source.url for source in self.SOURCES}
        logging.info(
            "No manual directory given: downloading the sources (to prepare offline, "
            "pass --manual_dir). %s",
            expected_sources_message(self.SOURCES, "--manual_dir"),
        )
        try:
            downloaded = dl_manager.download(urls)
        except Exception as error:  # Any network or server failure means the same to the user.
            raise SourceFilesMissingError(
                f"Could not download the sources ({type(error).__name__}: {error}).\n"
                + expected_sources_message(self.SOURCES, "--manual_dir")
            ) from error
        return {name: pathlib.Path(path) for name, path in downloaded.items()}

    def _extract(self, dl_manager, path: pathlib.Path) -> pathlib.Path:
        """A folder stays as is; a zip or tar is extracted (once, cached by TFDS).

        Raises:
            SourceFileCorruptError: the archive cannot be extracted (often a partial download).
        """
        if path.is_dir():
            return path
        try:
            return pathlib.Path(dl_manager.extract(path))
        except extractor.ExtractError as error:
            raise SourceFileCorruptError(
                f"{path} cannot be extracted ({error.__cause__ or error}); it is probably "
                "incomplete: download it again and replace it"
            ) from None


def find_sources(sources, manual_dir: os.PathLike) -> dict[str, pathlib.Path]:
    """By archive name, each source in `manual_dir`: its extracted folder or the archive.

    Raises:
        SourceFilesMissingError: listing the sources that are not there.
    """
    located, missing = {}, []
    for source in sources:
        archive = pathlib.Path(manual_dir) / source.archive_name
        extracted = (
            pathlib.Path(manual_dir) / source.extracted_name if source.extracted_name else None
        )
        if extracted is not None and extracted.is_dir():
            located[source.archive_name] = extracted
        elif archive.is_file():
            located[source.archive_name] = archive
        else:
            missing.append(source)
    if missing:
        raise SourceFilesMissingError(expected_sources_message(missing, manual_dir))
    return located


def expected_sources_message(sources, where) -> str:
    listing = "\n".join(f"  {source.describe()}" for source in sources)
    return f"Expected these files in {where}:\n{listing}"


def find_files(root: os.PathLike, extensions: tuple[str, ...]) -> list[pathlib.Path]:
    """Files under `root` (any depth) whose names end in one of `extensions`, sorted."""
    return sorted(
        path
        for path in pathlib.Path(root).rglob("*")
        if path.name.lower().endswith(extensions) and path.is_file()
    )
