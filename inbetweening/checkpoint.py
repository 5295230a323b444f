"""Training checkpoints in workdir/checkpoints (orbax): the whole TrainState, saved
asynchronously, keeping the last k and the best by validation FVD.

Each step directory holds two items: "state" (the TrainState pytree: both networks'
parameters, batch statistics, both optimizer states, step, PRNG key) and "meta" (JSON: the
config and the input pipeline's position). Orbax writes a step into a temporary directory
and renames it when complete, so a run killed mid-save leaves only complete steps behind.
"""

import os
from typing import Any, Callable

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging
from orbax.checkpoint import checkpoint_managers

CHECKPOINT_DIR = "checkpoints"
BEST_METRIC = "val_fvd"  # lower is better


class CheckpointMismatchError(ValueError):
    """The checkpoints in a work directory belong to a model of other shapes."""


class CheckpointNotFoundError(ValueError):
    """A path that is neither a work directory with checkpoints nor a `params` export."""


class NoIntactCheckpointError(CheckpointNotFoundError):
    """Every checkpoint of a work directory fails to restore."""


# Suffix of a step directory moved aside because it failed to restore.
CORRUPT_SUFFIX = ".corrupt"


def checkpoint_dir(workdir: str) -> str:
    return os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)


def _fvd(metrics: dict) -> float:
    return metrics[BEST_METRIC]


class TrainingCheckpoints:
    """Saves and restores TrainStates of one work directory.

    save() returns once the arrays are copied to host memory; the files are written by a
    background thread. Kept: the `keep` latest steps, plus the step with the lowest
    metrics["val_fvd"] among those saved with metrics.
    """

    def __init__(self, workdir: str, keep: int, read_only: bool = False):
        policy = checkpoint_managers.AnyPreservationPolicy(
            [
                checkpoint_managers.LatestN(n=keep),
                # reverse=True sorts descending, and BestN keeps the tail: the lowest FVD.
                checkpoint_managers.BestN(
                    get_metric_fn=_fvd, reverse=True, n=1, keep_checkpoints_without_metrics=False
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=None if read_only else policy,
            best_fn=_fvd,
            best_mode="min",
            create=not read_only,
            read_only=read_only,
            # Removes what a save killed before its final rename left behind.
            cleanup_tmp_directories=not read_only,
            enable_async_checkpointing=True,
        )
        self.directory = checkpoint_dir(workdir)
        # Handlers named up front, so a fresh manager can read metadata before restoring.
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=options,
            item_handlers={
                "state": ocp.StandardCheckpointHandler(),
                "meta": ocp.JsonCheckpointHandler(),
            },
        )

    def save(
        self,
        step: int,
        state,
        config: ml_collections.ConfigDict,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """Starts saving `state` as step `step`; `metrics` (e.g. {"val_fvd": x}) rank it."""
        meta = {"config": config.to_dict(), "next_train_batch": step}
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
            ),
            metrics=metrics,
            force=True,
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def best_step(self) -> int | None:
        """The saved step with the lowest validation FVD; the latest while none has one."""
        best = self._manager.best_step()
        return best if best is not None else self.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def restore(self, step: int, abstract_state):
        """The TrainState saved at `step`, laid out like `abstract_state` (a pytree of
        jax.ShapeDtypeStruct with shardings). Raises CheckpointMismatchError naming the
        first array whose saved shape differs."""
        check_compatible(self.saved_shapes(step), abstract_state, self.directory)
        return self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state))
        ).state

    def saved_shapes(self, step: int) -> dict[str, tuple]:
        """{"g_params/encoder/.../kernel": shape} of the state saved at `step`."""
        metadata = self._manager.item_metadata(step)["state"]
        return {path: tuple(leaf.shape) for path, leaf in flatten_with_names(metadata).items()}

    def restore_raw(self, step: int) -> tuple[dict, dict]:
        """(state as nested dicts of host arrays, meta) without knowing the model."""
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()),
        )
        return restored.state, restored.meta

    def restore_newest_or_init(self, abstract_state, init: Callable[[], Any]) -> tuple[Any, int]:
        """(state to train from, first step to run): the newest step that restores, laid
        out like `abstract_state`, else init() and step 1. A step that fails to restore is
        moved aside to <step>.corrupt (nothing is deleted) with a warning, so that training
        goes on from the one before it. Raises NoIntactCheckpointError when none restores,
        CheckpointMismatchError when they belong to another model."""
        steps = sorted(self.all_steps(), reverse=True)
        if not steps:
            return init(), 1
        step, state = self._first_intact(
            steps, lambda step: self.restore(step, abstract_state), True
        )
        logging.info("Resuming from %s/%d", self.directory, step)
        return state, step + 1

    def restore_raw_intact(self, best_first: bool = True) -> tuple[int, dict, dict]:
        """(step, state as dicts, meta) of the best step (lowest validation FVD, else the
        latest; with best_first False, the latest), or when it fails to restore, of the
        newest one that does, with a warning; nothing is moved. Raises
        NoIntactCheckpointError (also when there is none)."""
        first = self.best_step() if best_first else self.latest_step()
        steps = ([] if first is None else [first]) + [
            step for step in sorted(self.all_steps(), reverse=True) if step != first
        ]
        step, (state, meta) = self._first_intact(steps, self.restore_raw, False)
        return step, state, meta

    def _first_intact(self, steps: list[int], restore: Callable, move_aside: bool):
        for step in steps:
            try:
                return step, restore(step)
            except CheckpointMismatchError:
                raise
            # Damaged files surface as many types (tensorstore's ValueError, JSON errors,
            # OSError...); any failure to read a step means the same: try the next one.
            except Exception as error:  # noqa: BLE001
                reason = f"{type(error).__name__}: {str(error).splitlines()[0][:600]}"
                if move_aside:
                    moved = self._move_aside(step)
                    logging.warning(
                        "Checkpoint step %d cannot be restored (%s): moved to %s; "
                        "resuming from an older step",
                        step,
                        reason,
                        moved,
                    )
                else:
                    logging.warning(
                        "Checkpoint step %d in %s cannot be restored (%s): using an older step",
                        step,
                        self.directory,
                        reason,
                    )
        tried = ", ".join(str(step) for step in steps) or "none"
        raise NoIntactCheckpointError(
            f"{os.path.dirname(self.directory)}: no checkpoint can be restored (steps "
            f"tried: {tried}); start a new --workdir, or remove the damaged steps"
        )

    def _move_aside(self, step: int) -> str:
        source = os.path.join(self.directory, str(step))
        target, copy = source + CORRUPT_SUFFIX, 1
        while os.path.exists(target):
            target, copy = f"{source}{CORRUPT_SUFFIX}.{copy}", copy + 1
        os.rename(source, target)
        self._manager.reload()
        return target

    def wait_until_finished(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()


def check_compatible(saved_shapes: dict[str, tuple], abstract_state, directory: str) -> None:
    expected = {
        path: tuple(leaf.shape) for path, leaf in flatten_with_names(abstract_state).items()
    }
    for path in sorted(expected.keys() | saved_shapes.keys()):
        saved, wanted = saved_shapes.get(path), expected.get(path)
        if saved == wanted:
            continue
        if saved is None:
            problem = f"{path} (shape {wanted}) is missing from them"
        elif wanted is None:
            problem = f"they hold {path} (shape {saved}), which this config's model lacks"
        else:
            problem = f"{path} has shape {saved} there but {wanted} in this config"
        raise CheckpointMismatchError(
            f"the checkpoints in {directory} were written with another config: {problem}. "
            "Use a new --workdir (nothing was overwritten)."
        )


def flatten_with_names(tree) -> dict[str, Any]:
    """{"g_params/ImageEncoder_0/Conv_0/kernel": leaf} for every leaf of `tree`."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(_key_name(k) for k in path): leaf for path, leaf in leaves}


def _key_name(key) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)
