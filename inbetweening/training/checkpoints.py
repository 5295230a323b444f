"""Training checkpoints in workdir/checkpoints (orbax): the whole TrainState, saved
asynchronously, keeping the last k and the best by validation FVD.

Each step directory holds two items: "state" (the TrainState pytree: both networks'
parameters, batch statistics, both optimizer states, step, PRNG key) and "meta" (JSON: the
config and the input pipeline's position). Orbax writes a step into a temporary directory
and renames it when complete, so a run killed mid-save leaves only complete steps behind.
"""

import errno
import json
import time
from typing import Any, Callable

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from etils import epath
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers

from inbetweening.config.migration import has_unrolled_latent_blocks, stack_latent_blocks
from inbetweening.storage.paths import user_path

CHECKPOINT_DIR = "checkpoints"
BEST_METRIC = "val_fvd"  # lower is better


class CheckpointMismatchError(ValueError):
    """The checkpoints in a work directory belong to a model of other shapes."""


class CheckpointNotFoundError(ValueError):
    """A path that is neither a work directory with checkpoints nor a `params` export."""


class NoIntactCheckpointError(CheckpointNotFoundError):
    """Every checkpoint of a work directory fails to restore."""


class CheckpointReadError(OSError):
    """A step could not be read for a reason other than damage to its files (permission,
    a full disk, the network): nothing was moved aside, nothing rolled back."""


# Suffix of a step directory moved aside because its files are damaged.
CORRUPT_SUFFIX = ".corrupt"
# A step whose read fails with a passing fault is read again after these pauses (seconds).
RETRY_PAUSES = (1.0, 4.0, 16.0)

# What a failure to read a step means: its files are damaged (move it aside, use an older
# step), a fault of the environment that may pass (retry, then stop), or neither is known.
DAMAGED, FAULT, UNKNOWN, INTACT = "damaged", "fault", "unknown", "intact"
# Status codes in tensorstore's and XLA's messages (absl status names).
_FAULT_CODES = (
    "PERMISSION_DENIED",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "UNAUTHENTICATED",
    "ABORTED",
    "CANCELLED",
)
_DAMAGE_CODES = (
    "DATA_LOSS",
    "FAILED_PRECONDITION",
    "NOT_FOUND",
    "INVALID_ARGUMENT",
    "OUT_OF_RANGE",
)
# What tensorstore says when a file decodes wrongly but gives no status code.
_DAMAGE_PHRASES = ("Error decoding", "Invalid JSON", "checksum", "corrupt", "truncated")
_FAULT_ERRNOS = (
    errno.EACCES,
    errno.EPERM,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EIO,
    errno.EROFS,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
)


def classify(error: BaseException) -> str:
    """DAMAGED, FAULT or UNKNOWN: what `error`, raised while reading a step, says of it."""
    if isinstance(error, (ConnectionError, TimeoutError, PermissionError)):
        return FAULT
    if isinstance(error, FileNotFoundError):
        return DAMAGED  # a file the step's metadata lists is gone
    if isinstance(error, OSError) and error.errno in _FAULT_ERRNOS:
        return FAULT
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
        return DAMAGED
    message = str(error)
    if any(code in message for code in _FAULT_CODES):
        return FAULT
    if isinstance(error, ValueError) and (
        any(code in message for code in _DAMAGE_CODES)
        or any(phrase in message for phrase in _DAMAGE_PHRASES)
    ):
        return DAMAGED
    return UNKNOWN


def all_outcomes(outcome: str) -> list[str]:
    """Every process's outcome of reading one step (this process's alone when it is the
    only one)."""
    if jax.process_count() == 1:
        return [outcome]
    codes = (INTACT, DAMAGED, FAULT, UNKNOWN)
    gathered = multihost_utils.process_allgather(np.array([codes.index(outcome)]))
    return [codes[int(code)] for code in np.asarray(gathered).reshape(-1)]


def checkpoint_dir(workdir: epath.PathLike) -> epath.Path:
    return user_path(workdir) / CHECKPOINT_DIR


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
        self.workdir = user_path(workdir)
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
        saved_shapes = self.saved_shapes(step)
        if has_unrolled_latent_blocks(saved_shapes):
            return self._restore_unrolled(step, abstract_state)
        check_compatible(saved_shapes, abstract_state, self.directory)
        return self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state))
        ).state

    def _restore_unrolled(self, step: int, abstract_state):
        """restore() of a step saved by a version that unrolled G_Z's blocks: read on the
        host in the new layout (restore_raw), then placed like `abstract_state`."""
        arrays = flatten_with_names(self.restore_raw(step)[0])
        check_compatible(
            {path: np.shape(array) for path, array in arrays.items()},
            abstract_state,
            self.directory,
        )
        leaves = [
            _placed(np.asarray(arrays[path], leaf.dtype), leaf)
            for path, leaf in flatten_with_names(abstract_state).items()
        ]
        return jax.tree.unflatten(jax.tree.structure(abstract_state), leaves)

    def saved_shapes(self, step: int) -> dict[str, tuple]:
        """{"g_params/encoder/.../kernel": shape} of the state saved at `step`."""
        metadata = self._manager.item_metadata(step)["state"]
        return {path: tuple(leaf.shape) for path, leaf in flatten_with_names(metadata).items()}

    def restore_raw(self, step: int) -> tuple[dict, dict]:
        """(state as nested dicts of host arrays, meta) without knowing the model; G_Z's
        blocks in the scanned layout whichever version saved them (stack_latent_blocks)."""
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()),
        )
        return stack_latent_blocks(restored.state), restored.meta

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
        """The first of `steps` that `restore` reads, as (step, what it returned). Every
        process reads each step; they agree on what happened (all_outcomes) before anyone
        goes on. A step whose files are damaged is skipped with a warning (training moves
        it aside: process 0 alone, the others wait at a barrier). A passing fault is read
        again after RETRY_PAUSES; then, or for an error of unknown meaning, every process
        stops with CheckpointReadError, nothing moved."""
        for step in steps:
            for pause in (*RETRY_PAUSES, None):
                outcome, result = self._read(step, restore)
                outcomes = all_outcomes(outcome)
                if all(o == INTACT for o in outcomes):
                    return step, result
                if FAULT in outcomes and UNKNOWN not in outcomes and pause is not None:
                    logging.warning(
                        "Checkpoint step %d of %s could not be read (%s); trying again in %.0f s",
                        step,
                        self.workdir,
                        result if outcome != INTACT else "on another process",
                        pause,
                    )
                    time.sleep(pause)
                    continue
                break
            if FAULT in outcomes or UNKNOWN in outcomes:
                reason = result if outcome != INTACT else "an error on another process"
                raise CheckpointReadError(
                    f"{self.workdir}: checkpoint step {step} could not be read ({reason}); "
                    "nothing was moved or rolled back: fix the cause and run the same "
                    "command again"
                )
            self._skip_damaged(
                step, result if outcome == DAMAGED else "damaged on another process", move_aside
            )
        tried = ", ".join(str(step) for step in steps) or "none"
        raise NoIntactCheckpointError(
            f"{self.workdir}: no checkpoint can be restored (steps "
            f"tried: {tried}); start a new --workdir, or remove the damaged steps"
        )

    def _read(self, step: int, restore: Callable) -> tuple[str, Any]:
        """(INTACT, what restore returned) or (what the error means, a line naming it)."""
        try:
            return INTACT, restore(step)
        except CheckpointMismatchError:
            raise
        # Reading a step fails in many types (tensorstore's ValueError, JSON and OS
        # errors...); classify() tells which mean damage.
        except Exception as error:  # noqa: BLE001
            return classify(error), f"{type(error).__name__}: {str(error).splitlines()[0][:600]}"

    def _skip_damaged(self, step: int, reason: str, move_aside: bool) -> None:
        if not move_aside:
            logging.warning(
                "Checkpoint step %d in %s cannot be restored (%s): using an older step",
                step,
                self.directory,
                reason,
            )
            return
        moved = self._move_aside(step) if jax.process_index() == 0 else None
        # The others wait until process 0 has moved it, then all list the steps again.
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"checkpoint step {step} moved aside")
        self._manager.reload()
        if moved is not None:
            logging.warning(
                "Checkpoint step %d cannot be restored (%s): moved to %s; resuming from an "
                "older step",
                step,
                reason,
                moved,
            )

    def _move_aside(self, step: int) -> epath.Path:
        source = self.directory / str(step)
        target, copy = source.with_name(source.name + CORRUPT_SUFFIX), 1
        while target.exists():
            target, copy = source.with_name(f"{source.name}{CORRUPT_SUFFIX}.{copy}"), copy + 1
        source.rename(target)
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


def _placed(array: np.ndarray, abstract: jax.ShapeDtypeStruct) -> jax.Array:
    """The host `array` (the whole value, on every process) as a global array laid out
    as `abstract.sharding`."""
    return jax.make_array_from_callback(array.shape, abstract.sharding, lambda index: array[index])


def flatten_with_names(tree) -> dict[str, Any]:
    """{"g_params/ImageEncoder_0/Conv_0/kernel": leaf} for every leaf of `tree`."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(_key_name(k) for k in path): leaf for path, leaf in leaves}


def _key_name(key) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)
