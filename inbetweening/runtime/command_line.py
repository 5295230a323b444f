"""What every command-line tool shares: the terminal shows the project's own lines, and a
user error is one line on stderr and exit code 2 (a traceback is for bugs)."""

import gc
import logging
import os
import sys

from absl import app, flags
from absl import logging as absl_logging

USER_ERROR_EXIT_CODE = 2
# Set to 1 (or pass --verbosity=1) to see the libraries' INFO lines (orbax, jax, ...).
VERBOSE_VARIABLE = "INBETWEENING_VERBOSE"
# The package itself (this file is in inbetweening/runtime/).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Library warnings that say nothing a user can act on.
_HARMLESS_WARNINGS = (
    "Requested `tracked_metric`; did not provide metrics",
    "CheckpointManagerOptions.read_only=True",
    "Given directory is read only",
    # orbax asks each gs:// bucket for its hierarchical namespace, which needs credentials
    # the emulator of the tests has not, and falls back to what works everywhere.
    "Could not determine bucket type for bucket name",
    # TFDS names every prepared dataset's config on each load.
    "Using custom data configuration",
)


def user_error(message: str) -> int:
    """Prints `error: message` to stderr; returns the exit code for main() to return (absl's
    app.run exits with it)."""
    print(f"error: {message}", file=sys.stderr)
    return USER_ERROR_EXIT_CODE


def define_renamed_flags(renamed: dict[str, str]) -> None:
    """For each {old: new} name of a string flag, the old name, kept for one release. The
    new flag must be defined first; one of the two is required."""
    for old, new in renamed.items():
        flags.DEFINE_string(old, None, f"Old name of --{new}, kept for one release.")
        flags.register_multi_flags_validator(
            [new, old],
            lambda values, new=new, old=old: values[new] is not None or values[old] is not None,
            message=f"--{new} is required",
        )


def resolve_renamed_flags(renamed: dict[str, str]) -> None:
    """Moves an old flag's value to its new name, with a warning. Exits with a user error
    when both are given with different values."""
    values = flags.FLAGS
    for old, new in renamed.items():
        if values[old].value is None:
            continue
        absl_logging.warning("--%s is now --%s; the old name goes in the next release", old, new)
        if values[new].value not in (None, values[old].value):
            sys.exit(user_error(f"--{old} and --{new} name the same thing: give one"))
        values[new].value = values[old].value


def verbose() -> bool:
    return absl_logging.get_verbosity() >= 1 or os.environ.get(VERBOSE_VARIABLE, "") not in (
        "",
        "0",
    )


def not_an_abandoned_checkpoint_read(record: logging.LogRecord) -> bool:
    """False for asyncio's report of a tensorstore read that orbax abandoned when another
    array of the same damaged checkpoint failed first, unless verbose(): the failure itself
    was reported (checkpoints.py names the step and the error), and which sibling reads are
    still pending when the restore gives up is a race. A filter of asyncio's logger, not of
    the terminal's handler: a task collected as the interpreter exits may reach Python's
    handler of last resort instead (once in the tests, an unprefixed line after the error)."""
    if verbose() or not record.getMessage().startswith("Task exception was never retrieved"):
        return True
    error = record.exc_info[1] if record.exc_info else None
    return not (isinstance(error, ValueError) and str(error).startswith("DATA_LOSS"))


class ProjectLines(logging.Filter):
    """Passes the project's own log lines and the libraries' warnings; the libraries' INFO
    lines (and a few empty warnings) only when verbose()."""

    def filter(self, record: logging.LogRecord) -> bool:
        if verbose() or record.pathname.startswith(_PACKAGE_DIR):
            return True
        message = record.getMessage()
        return record.levelno >= logging.WARNING and not message.startswith(_HARMLESS_WARNINGS)


class PlainFormatter(logging.Formatter):
    """`message` for information, `warning: message` above it; absl's prefix (level, time,
    thread, file) when verbose()."""

    def __init__(self, detailed: logging.Formatter):
        super().__init__()
        self._detailed = detailed

    def format(self, record: logging.LogRecord) -> str:
        if verbose():
            return self._detailed.format(record)
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _hide_callbacks_into_a_closed_loop(unraisable) -> None:
    """After a checkpoint fails to restore, tensorstore's pending reads call back into the
    event loop orbax has closed, each printing a traceback at exit: nothing is lost, and
    the failure itself was reported. Every other unraisable error is printed as usual."""
    error = unraisable.exc_value
    if isinstance(error, RuntimeError) and str(error) == "Event loop is closed":
        return
    sys.__unraisablehook__(unraisable)


def parse_flags(argv: list[str], flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
    """absl's flag parsing with every error a user error: one `error:` line and exit 2, not
    absl's two lines and exit 1, nor ml_collections' traceback for an override of a field
    the config does not have (`--config.num_train_step=2`, a typo)."""
    try:
        return flag_values(argv)
    except flags.Error as error:
        sys.exit(user_error(str(error)))
    except (AttributeError, KeyError) as error:
        sys.exit(user_error(_unknown_field(argv, error)))


def _unknown_field(argv: list[str], error: Exception) -> str:
    """One line for ml_collections' error for an override of a field the config lacks:
    the flag, the field, and ml_collections' guess at the field meant."""
    while error.args and isinstance(error.args[0], Exception):
        error = error.args[0]
    field, _, guess = str(error.args[0] if error.args else error).partition("\n")
    field = field.strip("'")
    named = [
        argument
        for argument in argv[1:]
        if argument.startswith("--") and field in argument.partition("=")[0].split(".")
    ]
    message = f"{' '.join(named) or 'a --config override'}: the config has no field {field!r}"
    return f"{message}. {guess}" if guess else message


def import_tensorflow():
    """TensorFlow, imported with what its native libraries print while they load ("oneDNN
    custom operations are on ...", twice) kept off the terminal unless verbose(): TensorFlow
    2.20 prints those INFO lines before its logging reads TF_CPP_MIN_LOG_LEVEL
    (tensorflow/tensorflow#100442). An error of the import itself is raised as usual."""
    if "tensorflow" in sys.modules or verbose():
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    terminal = os.dup(2)
    try:
        with open(os.devnull, "w") as nowhere:
            os.dup2(nowhere.fileno(), 2)
        import tensorflow
    finally:
        os.dup2(terminal, 2)
        os.close(terminal)
    return tensorflow


def freeze_start_up_heap() -> None:
    """Takes the objects alive now (the imported libraries: ~170,000, alive to the end)
    out of the cyclic garbage collector's scans, and collects young objects every 10,000
    allocations instead of 700. Tracing and lowering a program make hundreds of thousands
    of objects, and CPython's collections, each scanning that start-up heap again, took
    ~10% of a tiny training run's CPU time (docs/experiments.md). Cycles made later are
    still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def run(main) -> None:
    """app.run(main), with the terminal as ProjectLines and PlainFormatter make it (and
    asyncio's reports of abandoned checkpoint reads hidden), flag errors as parse_flags
    reports them, and the start-up heap frozen."""
    sys.unraisablehook = _hide_callbacks_into_a_closed_loop
    logging.getLogger("asyncio").addFilter(not_an_abandoned_checkpoint_read)
    freeze_start_up_heap()
    handler = absl_logging.get_absl_handler()
    handler.addFilter(ProjectLines())
    handler.setFormatter(PlainFormatter(absl_logging.PythonFormatter()))
    app.run(main, flags_parser=parse_flags)
