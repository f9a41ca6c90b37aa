"""Harvesting: runs one connector (``mappings/``) and keeps the catalog in step with its upstream.

Where things are:

* ``contract``: what a connector produces and implements (``Item``, ``Key``, ``Page``,
  ``RecordError``, ``MappingError``, ``JSON``, the ``Connector`` protocol);
* ``http``: outbound GETs with retries and ``Retry-After`` (``Http``, ``FetchError``), over the
  one outbound client ``kg.outbound`` (timeouts, allowed hosts, size cap, redirects);
* ``state``: harvest state in the database ``harvest`` (open runs and cursors, what each
  source produced, the leases);
* ``lease``: ``Lease``, a source's harvest lease held with a heartbeat (one replica runs it);
* ``report``: ``HarvestReport`` (counts, errors, time per stage) and the ``Progress`` bar;
* ``engine``: the loop (``Harvester``): prefetch, map, write in batches, delete, sweep;
* ``schedule``: ``HarvestScheduler`` and the parsing of ``--every``/``--since`` values.

The names are re-exported here (``from kg.harvest import Harvester, Http``).
"""

from kg.harvest.contract import JSON, Connector, Item, Key, MappingError, Page, RecordError
from kg.harvest.engine import Harvester, Since, content_hash
from kg.harvest.http import FetchError, Http, parse_retry_after
from kg.harvest.lease import Lease
from kg.harvest.report import HarvestReport, Progress
from kg.harvest.schedule import HarvestScheduler, parse_interval, parse_since
from kg.harvest.state import HarvestState, LeaseLost

__all__ = [
    "JSON",
    "Connector",
    "FetchError",
    "HarvestReport",
    "HarvestScheduler",
    "HarvestState",
    "Harvester",
    "Http",
    "Item",
    "Key",
    "Lease",
    "LeaseLost",
    "MappingError",
    "Page",
    "Progress",
    "RecordError",
    "Since",
    "content_hash",
    "parse_interval",
    "parse_retry_after",
    "parse_since",
]
