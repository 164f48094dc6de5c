"""Run every benchmark and print one table of figures."""

from __future__ import annotations

import platform
import sys

from bench import foundation


def main() -> None:
    print(f"ihost benchmarks on {platform.machine()}, Python {platform.python_version()}")
    rows = foundation.run()
    width = max(len(name) for name, _, _ in rows)
    for name, value, unit in rows:
        print(f"  {name:<{width}}  {value:>12,.0f} {unit}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
