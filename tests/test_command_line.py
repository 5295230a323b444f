"""What the terminal of every command-line tool lets through (command_line.ProjectLines)."""

import logging
import sys

import pytest

from inbetweening.runtime.command_line import ProjectLines


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


def test_abandoned_reads_of_a_damaged_checkpoint_are_not_shown():
    record = _asyncio_error(ValueError('DATA_LOSS: Error opening "zarr" driver: ...'))
    assert not ProjectLines().filter(record)


@pytest.mark.parametrize(
    "error", [ValueError("shape mismatch"), RuntimeError("DATA_LOSS: not tensorstore's")]
)
def test_other_unretrieved_task_errors_are_shown(error):
    assert ProjectLines().filter(_asyncio_error(error))
