"""What the listeners need, built by the composition root (bot/wiring.py) and handed in once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HandlerDeps:
    """The services and facts listeners use; never the whole Settings."""

    sandbox: bool
