"""The project's user-facing error: something the user can fix, named in one line.

Every entry point catches :class:`DanceSynthError` (and ``OSError``) and reports it as
``error: <file>: <what>`` with a non-zero exit (``runtime.report_errors``); the messages name
the file and the problem, so no traceback is needed.
"""


class DanceSynthError(Exception):
    """Bad input (dataset, checkpoint, audio, options) or an unwritable output; the message
    names the file, and where it applies the key or clip, and what was expected."""
