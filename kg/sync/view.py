"""Where an asset of a node comes from, and which ones the node's view shows.

A node holds its own assets (no platform, ``aiod``, or its ``node_platform``) and, when it
mirrors its central (``aiod-kg harvest aiod``), the central's catalogue under the platforms
the central gave (``aiod_platform`` for the central's own records; set it to something other
than ``aiod``, e.g. ``aiod-central``, so they are told apart from the node's). The
``node_view`` setting: ``merged`` shows both, ``local`` the node's own only. Not a node
(no ``central_url``): everything is shown, nothing is marked.
"""

from __future__ import annotations

from typing import Any

from kg.settings import Settings


def is_node(settings: Settings) -> bool:
    return bool(settings.central_url and settings.node_platform)


def is_local(settings: Settings, platform: object) -> bool:
    """Whether an asset with this ``platform`` is the node's own (not from the central)."""
    if platform in (None, "") or platform == settings.node_platform:
        return True
    return platform == "aiod" and settings.aiod_platform != "aiod"


def in_view(settings: Settings, platform: object) -> bool:
    if not is_node(settings) or settings.node_view == "merged":
        return True
    return is_local(settings, platform)


def origin(settings: Settings, platform: object) -> dict[str, Any]:
    """``{"origin": "node" | "central", "platform": ...}`` on a node, else ``{}``."""
    if not is_node(settings):
        return {}
    local = is_local(settings, platform)
    return {
        "origin": "node" if local else "central",
        "platform": settings.node_platform if local else platform,
    }
