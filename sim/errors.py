"""What the simulator raises for a problem the user can fix (the CLI prints it as one line)."""

from __future__ import annotations


class SimulationError(Exception):
    """A bad parameter, an impossible sweep value, or a steady state that cannot exist."""
