"""Which C extensions a running process has loaded: what shows which HTTP parser and event
loop a server really runs, where its configuration only says which it asked for."""

from __future__ import annotations

import psutil


def loaded_extensions(pid: int, *packages: str) -> set[str]:
    """Those of ``packages`` (``httptools``, ``uvloop``) with a shared object mapped into
    the process ``pid``."""
    paths = [region.path for region in psutil.Process(pid).memory_maps(grouped=True)]
    return {package for package in packages
            if any(f"/{package}/" in path and path.endswith(".so") for path in paths)}
