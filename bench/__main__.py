"""Run the named benchmarks (all when none is named) and print their results."""

from __future__ import annotations

import argparse
import importlib
import platform
import os
import sys
from datetime import datetime, timezone

BENCHMARKS = ["match", "diagnosis", "slack_load", "memory", "startup"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args()
    names = args.names or BENCHMARKS
    print(f"# otelbot benchmarks, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    failed = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n## {name}")
        if not module.run():
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
