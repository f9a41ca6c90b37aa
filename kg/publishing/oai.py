"""OAI-PMH 2.0 data provider: the six verbs, their error codes, sets and resumption tokens.

``OaiProvider.handle(arguments)`` answers one request (arguments as a multi-dict, so repeated
arguments can be refused) with the complete XML response. No HTTP here: ``api/routes/oai.py``
passes the query or form arguments in.

* Datestamps are the catalogue index's ``date_modified`` (UTC, second granularity); deleted
  records are kept as tombstones (``deletedRecord=persistent``).
* Lists are ordered by ``(datestamp, seq)`` and a resumption token carries the last key it
  returned (plus the request's arguments and the cursor): a record changed during a harvest
  moves behind the key and is delivered again, none is skipped, whatever the catalogue does.
* Sets: ``type:<collection>``, ``platform:<name>`` and ``openaire_data`` (the datasets).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import orjson

from kg.formats.records import PublicRecord
from kg.publishing.oai_formats import FORMATS, OAI_TYPES, Context, MetadataFormat, attr, text
from kg.publishing.publisher import Publisher
from kg.store.public_index import Row

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
VERBS = {
    "Identify": ({"verb"}, set()),
    "ListMetadataFormats": ({"verb"}, {"identifier"}),
    "ListSets": ({"verb"}, {"resumptionToken"}),
    "GetRecord": ({"verb", "identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"verb"}, {"metadataPrefix", "from", "until", "set", "resumptionToken"}),
    "ListRecords": ({"verb"}, {"metadataPrefix", "from", "until", "set", "resumptionToken"}),
}
OPENAIRE_SET = "openaire_data"
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_REPO_ID_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$")


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ListRequest:
    prefix: str
    set_spec: str | None
    since: str | None  # index form: YYYY-MM-DDTHH:MM:SS
    until: str | None
    after: tuple[str, int] | None = None
    cursor: int = 0
    # the list's size counted on its first page (counting again on every page read the rest
    # of the list each time: seconds per page at 1M); None in a token of an older version
    size: int | None = None

    def token(self, after: tuple[str, int], cursor: int, size: int) -> str:
        payload = {
            "m": self.prefix,
            "s": self.set_spec,
            "f": self.since,
            "u": self.until,
            "d": after[0],
            "q": after[1],
            "c": cursor,
            "n": size,
        }
        return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")

    @staticmethod
    def from_token(token: str) -> ListRequest:
        try:
            padded = token + "=" * (-len(token) % 4)
            payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
            return ListRequest(
                str(payload["m"]),
                payload["s"],
                payload["f"],
                payload["u"],
                (str(payload["d"]), int(payload["q"])),
                int(payload["c"]),
                int(payload["n"]) if payload.get("n") is not None else None,
            )
        except (
            binascii.Error,
            orjson.JSONDecodeError,
            KeyError,
            TypeError,
            ValueError,
            UnicodeEncodeError,
        ):
            raise OaiError("badResumptionToken", "The resumption token is invalid.") from None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_date(value: str, end: bool) -> tuple[str, str]:
    """An OAI date argument -> (index timestamp, granularity)."""
    if _SECOND_RE.match(value):
        stamp, granularity = value[:-1], "seconds"
    elif _DAY_RE.match(value):
        stamp, granularity = value + ("T23:59:59" if end else "T00:00:00"), "day"
    else:
        raise OaiError(
            "badArgument", f"Not a valid date: {value!r} (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)."
        )
    try:
        datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise OaiError("badArgument", f"Not a valid date: {value!r}.") from None
    return stamp, granularity


class OaiProvider:
    """The OAI-PMH repository over the public catalogue."""

    def __init__(self, publisher: Publisher, page_size: int | None = None) -> None:
        self.publisher = publisher
        self.settings = publisher.settings
        self.base_url = f"{publisher.base}/oai"
        self.page_size = page_size or self.settings.oai_page_size
        host = urlsplit(publisher.base).hostname or "localhost"
        self.repository_id = self.settings.oai_repository_identifier or host
        self.id_prefix = f"oai:{self.repository_id}:"

    # ------------------------------------------------------------------ helpers

    def oai_identifier(self, identifier: str) -> str:
        return self.id_prefix + identifier

    def _local_identifier(self, oai_identifier: str) -> str | None:
        if oai_identifier.startswith(self.id_prefix):
            return oai_identifier[len(self.id_prefix) :]
        return None

    def _row(self, oai_identifier: str) -> Row:
        local = self._local_identifier(oai_identifier)
        row = self.publisher.public.get(local) if local else None
        if row is None or row.type not in OAI_TYPES or local in self.publisher.withheld():
            raise OaiError("idDoesNotExist", f"No record {oai_identifier!r} in this repository.")
        return row

    def _format(self, prefix: str) -> MetadataFormat:
        fmt = FORMATS.get(prefix)
        if fmt is None:
            raise OaiError(
                "cannotDisseminateFormat",
                f"Unknown metadataPrefix {prefix!r}; see ListMetadataFormats.",
            )
        return fmt

    def set_specs(self, row: Row) -> list[str]:
        specs = [f"type:{row.type}"]
        if row.platform:
            specs.append(f"platform:{row.platform}")
        if row.type == "datasets":
            specs.append(OPENAIRE_SET)
        return specs

    def _set_filter(
        self, set_spec: str | None, fmt: MetadataFormat
    ) -> tuple[tuple[str, ...], str | None]:
        """(asset types, platform) selected by a set and a format."""
        types = fmt.types
        platform = None
        if set_spec is None:
            return types, None
        if set_spec == OPENAIRE_SET:
            types = tuple(t for t in types if t == "datasets")
        elif set_spec.startswith("type:"):
            wanted = set_spec[5:]
            if wanted not in OAI_TYPES:
                raise OaiError("badArgument", f"Unknown set {set_spec!r}; see ListSets.")
            types = tuple(t for t in types if t == wanted)
        elif set_spec.startswith("platform:") and len(set_spec) > 9:
            platform = set_spec[9:]
        else:
            raise OaiError("badArgument", f"Unknown set {set_spec!r}; see ListSets.")
        return types, platform

    def _header(self, row: Row) -> str:
        status = ' status="deleted"' if row.deleted else ""
        specs = "".join(f"<setSpec>{text(s)}</setSpec>" for s in self.set_specs(row))
        return (
            f"<header{status}><identifier>{text(self.oai_identifier(row.identifier))}"
            f"</identifier><datestamp>{row.date_modified}Z</datestamp>{specs}</header>"
        )

    def _context(self, records: Sequence[PublicRecord | None]) -> Context:
        found = [r for r in records if r is not None]
        return Context(
            self.publisher.reader.agents(found),
            self.settings.catalog_publisher,
            self.publisher.dcat,
        )

    # ------------------------------------------------------------------ entry point

    def handle(self, arguments: Mapping[str, Sequence[str]]) -> str:
        """The XML response to one request."""
        verb_values = arguments.get("verb") or []
        request_attrs = ""
        try:
            if len(verb_values) != 1 or verb_values[0] not in VERBS:
                raise OaiError("badVerb", "Missing, repeated or illegal verb.")
            verb = verb_values[0]
            required, optional = VERBS[verb]
            for name, values in arguments.items():
                if name not in required and name not in optional:
                    raise OaiError("badArgument", f"Illegal argument {name!r} for {verb}.")
                if len(values) != 1:
                    raise OaiError("badArgument", f"Repeated argument {name!r}.")
            args = {name: values[0] for name, values in arguments.items()}
            if "resumptionToken" in args and len(args) > 2:
                raise OaiError("badArgument", "resumptionToken is an exclusive argument.")
            if (
                verb in ("ListIdentifiers", "ListRecords")
                and "resumptionToken" not in args
                and "metadataPrefix" not in args
            ):
                raise OaiError("badArgument", "metadataPrefix is required.")
            missing = required - set(args)
            if missing:
                raise OaiError("badArgument", f"Missing argument(s): {', '.join(sorted(missing))}.")
            request_attrs = "".join(f" {k}={attr(v)}" for k, v in sorted(args.items()))
            body = getattr(self, f"_{verb}")(args)
        except OaiError as error:
            if error.code in ("badVerb", "badArgument"):
                request_attrs = ""
            body = f"<error code={attr(error.code)}>{text(error.message)}</error>"
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            f' xsi:schemaLocation="{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
            f"<responseDate>{_now()}</responseDate>"
            f"<request{request_attrs}>{text(self.base_url)}</request>{body}</OAI-PMH>\n"
        )

    # ------------------------------------------------------------------ verbs

    def _Identify(self, args: Mapping[str, str]) -> str:
        earliest = self.publisher.public.earliest_change(OAI_TYPES) or "1970-01-01T00:00:00"
        description = ""
        if _REPO_ID_RE.match(self.repository_id):
            ns = "http://www.openarchives.org/OAI/2.0/oai-identifier"
            description = (
                f'<description><oai-identifier xmlns="{ns}"'
                ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                f' xsi:schemaLocation="{ns} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
                f"<scheme>oai</scheme><repositoryIdentifier>{text(self.repository_id)}"
                "</repositoryIdentifier><delimiter>:</delimiter><sampleIdentifier>"
                f"{text(self.oai_identifier('data_' + 'x' * 24))}</sampleIdentifier>"
                "</oai-identifier></description>"
            )
        return (
            f"<Identify><repositoryName>{text(self.settings.catalog_title)}</repositoryName>"
            f"<baseURL>{text(self.base_url)}</baseURL><protocolVersion>2.0</protocolVersion>"
            f"<adminEmail>{text(self.settings.oai_admin_email)}</adminEmail>"
            f"<earliestDatestamp>{earliest}Z</earliestDatestamp>"
            "<deletedRecord>persistent</deletedRecord>"
            "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
            f"{description}</Identify>"
        )

    def _ListMetadataFormats(self, args: Mapping[str, str]) -> str:
        formats = list(FORMATS.values())
        if "identifier" in args:
            row = self._row(args["identifier"])
            formats = [f for f in formats if row.type in f.types]
            if not formats:
                raise OaiError("noMetadataFormats", "No format for this record.")
        items = "".join(
            f"<metadataFormat><metadataPrefix>{f.prefix}</metadataPrefix>"
            f"<schema>{text(f.schema)}</schema>"
            f"<metadataNamespace>{text(f.namespace)}</metadataNamespace></metadataFormat>"
            for f in formats
        )
        return f"<ListMetadataFormats>{items}</ListMetadataFormats>"

    def _ListSets(self, args: Mapping[str, str]) -> str:
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "ListSets is answered in one response.")
        public = self.publisher.public
        sets = [(f"type:{t}", f"All public {t.replace('_', ' ')}") for t in OAI_TYPES]
        sets.append((OPENAIRE_SET, "OpenAIRE data archive records (datasets)"))
        sets += [(f"platform:{p}", f"Records from {p}") for p in public.change_platforms(OAI_TYPES)]
        items = "".join(
            f"<set><setSpec>{text(spec)}</setSpec><setName>{text(name)}</setName></set>"
            for spec, name in sets
        )
        return f"<ListSets>{items}</ListSets>"

    def _GetRecord(self, args: Mapping[str, str]) -> str:
        fmt = self._format(args["metadataPrefix"])
        row = self._row(args["identifier"])
        if row.type not in fmt.types:
            raise OaiError(
                "cannotDisseminateFormat", f"{fmt.prefix} is not available for this record."
            )
        return f"<GetRecord>{self._records([row], fmt)}</GetRecord>"

    def _records(self, rows: Sequence[Row], fmt: MetadataFormat) -> str:
        reader = self.publisher.reader
        records = {row.identifier: reader.record(row) for row in rows if not row.deleted}
        ctx = self._context(list(records.values()))
        out = []
        for row in rows:
            record = records.get(row.identifier)
            if row.deleted or record is None:
                deleted = Row(
                    row.seq,
                    row.identifier,
                    row.type,
                    row.platform,
                    row.status,
                    row.date_created,
                    row.date_modified,
                    True,
                )
                out.append(f"<record>{self._header(deleted)}</record>")
                continue
            out.append(
                f"<record>{self._header(row)}<metadata>{fmt.render(record, ctx)}"
                "</metadata></record>"
            )
        return "".join(out)

    def _list_request(self, args: Mapping[str, str]) -> ListRequest:
        if "resumptionToken" in args:
            request = ListRequest.from_token(args["resumptionToken"])
            if request.prefix not in FORMATS:
                raise OaiError("badResumptionToken", "The resumption token is invalid.")
            return request
        since = until = None
        granularities = set()
        if "from" in args:
            since, granularity = _parse_date(args["from"], end=False)
            granularities.add(granularity)
        if "until" in args:
            until, granularity = _parse_date(args["until"], end=True)
            granularities.add(granularity)
        if len(granularities) > 1:
            raise OaiError("badArgument", "from and until must have the same granularity.")
        if since and until and since > until:
            raise OaiError("badArgument", "from is later than until.")
        return ListRequest(args["metadataPrefix"], args.get("set"), since, until)

    def _list(self, args: Mapping[str, str], with_metadata: bool) -> str:
        request = self._list_request(args)
        fmt = self._format(request.prefix)
        types, platform = self._set_filter(request.set_spec, fmt)
        public = self.publisher.public
        rows = (
            public.changes(
                types, self.page_size + 1, platform, request.since, request.until, request.after
            )
            if types
            else []
        )
        if not rows:  # (also when the records a token pointed at were withdrawn since)
            raise OaiError("noRecordsMatch", "No records match the request.")
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        last, listed = rows[-1], len(rows)
        rows = self.publisher.shown(rows)  # local-only assets of a node never leave
        if not rows and not more:
            raise OaiError("noRecordsMatch", "No records match the request.")
        if with_metadata:
            items = self._records(rows, fmt)
        else:
            items = "".join(self._header(row) for row in rows)
        token = ""
        if more or request.after is not None:
            if request.size is not None:
                total = request.size
            else:
                done = public.count_changes(
                    types, platform, request.since, request.until, request.after
                )
                total = request.cursor + done
            value = (
                request.token((last.date_modified, last.seq), request.cursor + listed, total)
                if more
                else ""
            )
            token = (
                f'<resumptionToken completeListSize="{total}" cursor="{request.cursor}">'
                f"{value}</resumptionToken>"
            )
        verb = "ListRecords" if with_metadata else "ListIdentifiers"
        return f"<{verb}>{items}{token}</{verb}>"

    def _ListIdentifiers(self, args: Mapping[str, str]) -> str:
        return self._list(args, with_metadata=False)

    def _ListRecords(self, args: Mapping[str, str]) -> str:
        return self._list(args, with_metadata=True)
