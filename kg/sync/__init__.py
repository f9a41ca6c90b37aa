"""AIoD nodes: push sync from a node to its central (``state`` what the central holds,
``pusher`` the run). Pull sync is the ``aiod`` connector (mappings/aiod.py)."""

from kg.sync.pusher import CentralDown, Pusher, SyncReport
from kg.sync.state import SyncState, sync_state

__all__ = ["CentralDown", "Pusher", "SyncReport", "SyncState", "sync_state"]
