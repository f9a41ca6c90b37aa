"""The machine a benchmark ran on, printed at the top of every benchmark's output."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = ("pyoxigraph", "rdflib", "pyshacl", "fastapi", "uvicorn", "pydantic")


def describe(packages: tuple[str, ...] = PACKAGES) -> str:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(info.readline().split()[1])
            memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {memory} RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}\n"
        f"versions: {', '.join(versions)}"
    )


if __name__ == "__main__":
    print(describe())
