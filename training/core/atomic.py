"""Files that appear whole or not at all.

Every file tweetbot writes for someone else to read (splits, checkpoints,
``state.json``, step results, downloads) is written under a temporary name beside
its target and renamed into place, so a kill at any moment leaves the old file or
the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: renamed over ``path`` when
    the block succeeds, removed when it fails. It keeps ``path``'s suffix
    (Keras insists on ``.keras``)."""
    path = Path(path)
    partial = path.with_name(f".partial-{path.name}")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably (fsync before the rename)."""
    with replacing(path) as partial, open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
