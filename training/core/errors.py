"""The exceptions that mean "this run cannot go on", as opposed to a bug."""


class InputError(ValueError):
    """Bad input: a missing or unreadable file, or an impossible parameter.

    The message is a single line that names the file or parameter and says what
    to do; CLIs print it as ``error: <message>`` and exit with status 2, before
    any training starts.
    """


class DamagedArtifact(InputError):
    """A stored file is not the one that was written (its SHA-256 differs from
    the record made when it was written). Running the step again reads the same
    file: CLIs exit with ``DAMAGED_EXIT_STATUS`` and the local runner fails the
    task without a retry."""


DAMAGED_EXIT_STATUS = 3


def exit_status(error: InputError) -> int:
    """A CLI's exit status for ``error``: 2 for bad input, 3 for a damaged file."""
    return DAMAGED_EXIT_STATUS if isinstance(error, DamagedArtifact) else 2


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run is a failure, not a result.

    Declared here, not beside the fit loop, so callers can catch it without
    importing TensorFlow."""


class StepHung(RuntimeError):
    """No epoch finished within the step's ``--epoch-timeout``: the step is failed
    rather than left holding its GPU with no metric ever reported."""
