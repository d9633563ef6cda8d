"""Container HEALTHCHECK probe: exit 0 when `/health` answers 200 on this container's port.

Standard library only (the slim image has no curl): `python -m timetodo.healthcheck`.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
    except Exception as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
