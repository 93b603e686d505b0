"""The one exception type that means "the user gave us something we cannot use"."""


class InputError(ValueError):
    """Bad input: a missing or unreadable file, or an impossible parameter.

    The message is a single line that names the file or parameter and says what
    to do; CLIs print it as ``error: <message>`` and exit with status 2, before
    any training starts.
    """
