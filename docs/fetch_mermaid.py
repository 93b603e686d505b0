"""Put Mermaid's browser bundle in the docs site, from the npm registry, checked.

    python docs/fetch_mermaid.py      (``make docs`` and ``make test`` run it)

Material for MkDocs renders ```` ```mermaid ```` blocks with the global
``mermaid`` when a page has one, and fetches it from a CDN otherwise; serving
our own copy keeps the site whole offline. The tarball's SHA-256 is pinned, so a
changed file on the registry fails here instead of reaching a reader.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "11.12.0"  # the major version Material for MkDocs 9 is written for
TARBALL = f"https://registry.npmjs.org/mermaid/-/mermaid-{VERSION}.tgz"
TARBALL_SHA256 = "93492e4d609be83653a41c435f4cbd7e74419f7fa6b4fc90a8c983195f64af82"
TARGET = Path(__file__).with_name("javascripts") / "mermaid.min.js"


def main() -> int:
    if TARGET.is_file():
        return 0
    with urllib.request.urlopen(TARBALL, timeout=120) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != TARBALL_SHA256:
        print(f"error: {TARBALL}: SHA-256 {digest}, expected {TARBALL_SHA256}",
              file=sys.stderr)
        return 1
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        script = archive.extractfile("package/dist/mermaid.min.js").read()
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    partial = TARGET.with_suffix(".part")
    partial.write_bytes(script)
    partial.replace(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
