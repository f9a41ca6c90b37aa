"""``multipart/form-data`` bodies of file uploads (the share page's form), parsed as they stream:
each part with a ``filename`` goes chunk by chunk into the ``Upload`` that ``begin`` opens and
is handed to ``end`` when it is complete; other fields are skipped. No part is held in memory
or spooled to disk (python-multipart's push parser). Called from a worker thread: the
callbacks write to the store."""

from __future__ import annotations

from collections.abc import Callable

from python_multipart.multipart import MultipartParser, parse_options_header

from kg.files.names import BadName, checked_name
from kg.files.store import CHUNK, Upload

MAX_FILES = 100  # file parts in one form


class FormError(ValueError):
    """A form that is not a well-formed upload (400)."""


def boundary_of(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FormError("Send the files as multipart/form-data (with a boundary).")
    return boundary


class FormUploads:
    """Feeds one form body to the store; ``write`` chunks, then ``finish`` (or ``abort``)."""

    def __init__(
        self,
        boundary: bytes,
        begin: Callable[[str], Upload],
        end: Callable[[str, Upload, str | None], None],
    ) -> None:
        self.begin, self.end = begin, end
        self.count = 0
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._name: str | None = None
        self._upload: Upload | None = None
        self._buffer = bytearray()
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    # -- the parser's callbacks
    def _part_begin(self) -> None:
        self._headers = {}
        self._name, self._upload = None, None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        field = self._field.decode("latin-1").strip().lower()
        self._headers[field] = bytes(self._value).strip()
        self._field, self._value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", b""))
        raw = params.get(b"filename")
        if raw is None:
            return  # a plain field: skipped
        try:
            name = checked_name(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise FormError("A file name is not UTF-8.") from None
        except BadName as exc:
            raise FormError(str(exc)) from None
        self.count += 1
        if self.count > MAX_FILES:
            raise FormError(f"At most {MAX_FILES} files in one form.")
        self._name, self._upload = name, self.begin(name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._upload is None:
            return
        self._buffer += data[start:end]
        if len(self._buffer) >= CHUNK:
            self._upload.write(bytes(self._buffer))
            self._buffer = bytearray()

    def _part_end(self) -> None:
        upload, name = self._upload, self._name
        if upload is None or name is None:
            return
        if self._buffer:
            upload.write(bytes(self._buffer))
            self._buffer = bytearray()
        self._upload = None
        declared = self._headers.get("content-type", b"").decode("latin-1") or None
        self.end(name, upload, declared)

    # -- driving it
    def write(self, chunk: bytes) -> None:
        self.parser.write(chunk)

    def finish(self) -> None:
        self.parser.finalize()
        if self._upload is not None:
            raise FormError("The form ended inside a file.")
        if self.count == 0:
            raise FormError("The form has no file (a part with a filename).")

    def abort(self) -> None:
        if self._upload is not None:
            self._upload.abort()
            self._upload = None
        self._buffer = bytearray()
