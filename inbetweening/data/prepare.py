"""Prepares a dataset once, for the input pipeline to read.

    python -m inbetweening.data.prepare --dataset=NAME --data_dir=DST [--manual_dir=SRC]

With internet access the official archives are downloaded; without it they are read
from --manual_dir (the error message lists the files expected there). For
--dataset=folder, --manual_dir is the folder of the user's videos. A summary of the
split sizes and of the skipped files is printed at the end.
"""

import contextlib
import dataclasses
import io
import os
import sys

import tensorflow_datasets as tfds
from absl import flags

from inbetweening.data import builders, records, tfds_input
from inbetweening.data.builders import common, folder
from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error
from inbetweening.storage.paths import user_path

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Only when run as a program, so that importing prepare() defines no flags."""
    flags.DEFINE_enum("dataset", None, list(builders.BUILDERS), "Dataset to prepare.")
    flags.DEFINE_string("data_dir", None, "Where the prepared dataset is written.")
    flags.DEFINE_string(
        "manual_dir", None, "Folder holding the source archives (or, for folder, the videos)."
    )
    flags.DEFINE_integer(
        "image_size", common.DEFAULT_IMAGE_SIZE, "Side of the stored square frames."
    )
    flags.mark_flags_as_required(["dataset", "data_dir"])


@dataclasses.dataclass(frozen=True)
class PreparationSummary:
    dataset_dir: str
    split_sizes: dict[str, int]
    skipped_files: list[str]
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        sizes = "\n".join(f"  {split}: {size} examples" for split, size in self.split_sizes.items())
        lines = [*self.notes, f"Prepared {self.dataset_dir}", sizes]
        return "\n".join(lines) + f"\n  skipped files: {len(self.skipped_files)}"


def folder_changes(builder: common.VideoBuilder) -> tuple[str, ...]:
    """What changed in a folder since the newest other prepared version of it (none when
    this version is prepared already or no other exists): one line, and where the old
    version stays."""
    if builder.is_prepared():
        return ()
    current = builder.builder_config
    root = current.source_dir
    versions = user_path(builder.data_dir).parent.parent
    pattern = f"{folder.folder_prefix(root)}_*_{current.image_size}px/{builder.version}"
    current_dir = user_path(builder.data_dir)
    older = [path for path in versions.glob(pattern) if path != current_dir]
    if not older:
        return ()
    metadata = {path: _metadata(path) for path in older}
    # Versions prepared before prepared_ns was recorded: their directory's time.
    newest = max(
        older, key=lambda path: metadata[path].get("prepared_ns", path.stat().mtime * 10**9)
    )
    previous = metadata[newest].get("contents")
    if previous is None:
        return ()
    counts = folder.changes(previous, folder.contents(root))
    summary = ", ".join(f"{count} {what}" for what, count in counts.items())
    return (
        f"{root} changed since its version in {newest} (videos: {summary}): "
        "preparing a new version",
        f"The old version stays on disk; remove it with: rm -r {newest.parent}",
    )


def _metadata(version_dir) -> dict:
    """The metadata of a prepared version; empty when it cannot be read."""
    try:
        return dict(tfds.builder_from_directory(str(version_dir)).info.metadata)
    except Exception:  # noqa: BLE001 (an unreadable old version: nothing to compare with)
        return {}


def prepare(
    dataset: str,
    data_dir: str,
    manual_dir: str | None = None,
    image_size: int = common.DEFAULT_IMAGE_SIZE,
) -> PreparationSummary:
    """Builds `dataset` under `data_dir` unless it is there already.

    Raises:
        common.SourceFilesMissingError: sources neither in `manual_dir` nor downloadable.
    """
    tfds_input.hide_gpus_from_tensorflow()
    sources = builders.BUILDERS[dataset].SOURCES
    if manual_dir is not None:
        # Checked here, before TFDS, which would take an empty manual_dir as "download".
        if not os.path.isdir(manual_dir):
            raise common.SourceFilesMissingError(
                f"--manual_dir={manual_dir} is not a directory."
                + ("\n" + common.expected_sources_message(sources, "it") if sources else "")
            )
        common.find_sources(sources, manual_dir)
    builder = builders.make_builder(dataset, data_dir, image_size, folder_path=manual_dir)
    notes = ()
    if dataset == "folder":
        folder.require_a_usable_video(builder.builder_config.source_dir)
        notes = folder_changes(builder)
    # TFDS prints its own lines on stdout ("Downloading and preparing dataset Unknown
    # size..."), where the benchmarks print their JSON; the summary says what was built.
    with contextlib.redirect_stdout(io.StringIO()):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual_dir),
            file_format=records.ARRAY_RECORD,
        )
    notes += records.complete(builder)
    split_sizes = {
        split: builder.info.splits[split].num_examples
        for split in common.SPLITS
        if split in builder.info.splits
    }
    return PreparationSummary(
        dataset_dir=str(builder.data_dir),
        split_sizes=split_sizes,
        skipped_files=list(builder.info.metadata["skipped_files"]),
        notes=notes,
    )


def main(argv):
    del argv  # Everything comes in through flags.
    if FLAGS.dataset == "folder" and not FLAGS.manual_dir:
        sys.exit(user_error("--dataset=folder needs --manual_dir=FOLDER_OF_VIDEOS"))
    try:
        summary = prepare(FLAGS.dataset, FLAGS.data_dir, FLAGS.manual_dir, FLAGS.image_size)
    except common.SourceFilesMissingError as error:
        sys.exit(user_error(f"cannot prepare {FLAGS.dataset}: {error}"))
    print(summary)


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.data.prepare`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
