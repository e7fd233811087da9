"""What this environment installed that the lock does not pin: the releases `make test-newest`
is trying, printed before its tests so a failure can be traced to a release.

    python requirements/newer.py requirements/test.lock
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+))?")


def locked(path: Path) -> dict[str, str]:
    """The lock's pins that apply to this interpreter and platform."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = PIN.match(line)
        if found and (not found[3] or Marker(found[3].strip()).evaluate()):
            pins[canonicalize_name(found[1])] = found[2]
    return pins


def main(lock: str) -> int:
    pins = locked(Path(lock))
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    changed = []
    for name, version in sorted(installed.items()):
        pinned = pins.get(name)
        if pinned is None:
            continue
        if Version(version) != Version(pinned):
            direction = "newer" if Version(version) > Version(pinned) else "older"
            changed.append(f"  {name} {version} ({direction} than the lock's {pinned})")
    added = sorted(set(installed) - set(pins) - {"case-summarizer"})
    if changed:
        print(f"{len(changed)} release(s) differ from {lock}:")
        print("\n".join(changed))
    else:
        print(f"every locked package is at the version {lock} pins")
    if added:
        print("installed but not in the lock: " + ", ".join(added))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements/test.lock"))
