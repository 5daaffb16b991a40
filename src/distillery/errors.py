"""The one exception type users see as a one-line message instead of a traceback."""


class DistilleryError(Exception):
    """A problem with the user's input or environment, explained in one line.

    The CLI prints ``error: <message>`` and exits with status 2; tracebacks are kept for bugs.
    """
