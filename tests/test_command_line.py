"""What the terminal of every command-line tool lets through (command_line.ProjectLines,
and a filter of asyncio's logger), and how it reports a flag it cannot parse
(command_line.parse_flags)."""

import logging
import sys

import pytest
from absl import flags
from ml_collections import config_flags

from inbetweening.runtime.command_line import (
    USER_ERROR_EXIT_CODE,
    ProjectLines,
    not_an_abandoned_checkpoint_read,
    parse_flags,
)


def _asyncio_error(error: Exception) -> logging.LogRecord:
    """The record asyncio's default exception handler writes for a task whose exception
    nobody retrieved."""
    try:
        raise error
    except type(error):
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "asyncio",
        logging.ERROR,
        "/usr/lib/python3.11/asyncio/base_events.py",
        1,
        "Task exception was never retrieved\nfuture: <Task finished>",
        None,
        exc_info,
    )


@pytest.fixture
def asyncio_logger_alone():
    """A logger named as asyncio's, with the filter command_line.run() gives that one, and
    no handler (nor parent): what it lets through goes to Python's handler of last resort."""
    logger = logging.Logger("asyncio")
    logger.addFilter(not_an_abandoned_checkpoint_read)
    return logger


def test_abandoned_reads_of_a_damaged_checkpoint_are_not_shown(asyncio_logger_alone, capsys):
    asyncio_logger_alone.handle(
        _asyncio_error(ValueError('DATA_LOSS: Error opening "zarr" driver: ...'))
    )
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "error", [ValueError("shape mismatch"), RuntimeError("DATA_LOSS: not tensorstore's")]
)
def test_other_unretrieved_task_errors_are_shown(error, asyncio_logger_alone, capsys):
    asyncio_logger_alone.handle(_asyncio_error(error))
    printed = capsys.readouterr().err
    assert printed.startswith("Task exception was never retrieved") and str(error) in printed
    assert ProjectLines().filter(_asyncio_error(error))


@pytest.mark.parametrize(
    "argument, message",
    [
        (
            "--config.stpes=3",
            "--config.stpes=3: the config has no field 'stpes'. "
            'Did you mean "steps" instead of "stpes"?',
        ),
        ("--config.model.height=3", "--config.model.height=3: the config has no field 'height'"),
        ("--config.steps=many", "flag --config.steps=many: invalid literal for int()"),
        ("--stpes=3", "Unknown command line flag 'stpes'"),
    ],
)
# ml_collections loads a config file with importlib's deprecated load_module().
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
def test_a_flag_that_does_not_parse_is_one_error_line_and_exit_2(
    argument, message, tmp_path, monkeypatch, capsys
):
    config = tmp_path / "config.py"
    config.write_text(
        "import ml_collections\n"
        "def get_config():\n"
        "    return ml_collections.ConfigDict({'steps': 1, 'model': {'width': 2}})\n"
    )
    flag_values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", flag_values=flag_values)
    argv = ["program", f"--config={config}", argument]
    monkeypatch.setattr(sys, "argv", argv)  # where ml_collections looks for the overrides
    with pytest.raises(SystemExit) as exit:
        parse_flags(argv, flag_values)
    assert exit.value.code == USER_ERROR_EXIT_CODE
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
