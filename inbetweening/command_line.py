"""What every command-line tool shares: a user error is one line on stderr and exit code 2
(a traceback is for bugs)."""

import sys

USER_ERROR_EXIT_CODE = 2


def user_error(message: str) -> int:
    """Prints `error: message` to stderr; returns the exit code for main() to return (absl's
    app.run exits with it)."""
    print(f"error: {message}", file=sys.stderr)
    return USER_ERROR_EXIT_CODE
