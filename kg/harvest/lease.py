"""The harvest lease: a scheduled harvest of a source runs on one replica at a time.

Every replica may run ``aiod-kg serve --harvest-every`` (and anyone ``aiod-kg harvest``) on one
catalog: before a run, the harvester takes its source's lease in the harvest database
(``HarvestState.take_lease``: a conditional upsert in a serialised transaction, so of replicas
racing for it one wins). ``Lease`` renews it from a heartbeat thread every ``seconds / 3``
while the run lasts and releases it at the end. A replica killed mid-run stops renewing; once
the lease expires (``AIOD_KG_HARVEST_LEASE_SECONDS`` after its last renewal) another takes
it, and the open run's cursor (``runs``) resumes where the killed one last committed. A holder
that lost its lease (stalled past the TTL, taken over) finds out at its next state write
(``LeaseLost``, checked in the write's transaction) or from the heartbeat, and stops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from types import TracebackType

from kg.harvest.state import HarvestState, LeaseInfo

log = logging.getLogger("aiod_kg.harvest")


def holder_id() -> str:
    """This process's name as a lease holder: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """``with Lease(state, source, holder, seconds) as lease``: ``lease.held`` says whether it
    was taken (else ``lease.other`` is who holds it); held, it is renewed until the block ends,
    then released."""

    def __init__(self, state: HarvestState, source: str, holder: str, seconds: float) -> None:
        self.state = state
        self.source = source
        self.holder = holder
        self.seconds = seconds
        self.held = False
        self.other: LeaseInfo | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self.other = self.state.take_lease(self.source, self.holder, self.seconds)
        self.held = self.other is None
        if self.held:
            self._thread = threading.Thread(
                target=self._beat, name=f"harvest-lease-{self.source}", daemon=True
            )
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                if not self.state.renew_lease(self.source, self.holder, self.seconds):
                    log.warning("harvest lease of %s lost: taken over", self.source)
                    self.lost.set()
                    return
            except Exception:  # the database away for a moment: the next beat tries again
                log.exception("renewing the harvest lease of %s failed", self.source)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.state.release_lease(self.source, self.holder)
        except Exception:  # it expires by itself
            log.exception("releasing the harvest lease of %s failed", self.source)
