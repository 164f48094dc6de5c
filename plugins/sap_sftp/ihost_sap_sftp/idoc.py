"""IDoc XML, streamed both ways (no record of a file is ever held whole).

An IDoc-XML file has the basic type as its root (``<ORDERS05>``), one or more ``<IDOC
BEGIN="1">`` below it, each starting with the control record ``EDI_DC40`` followed by the
data segments; a segment is an element named after the segment type (``E1EDK01``) whose
child elements are its fields or its child segments. The reader parses bytes with expat,
so the prolog's encoding wins, and yields one `Idoc` at a time while it reads the file in
chunks; it refuses entity declarations (no entity expansion, no external entities). The
writer emits the same shape, one IDoc at a time.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

#: the most characters of field data one segment carries (an EDI_DD40 record's SDATA)
SEGMENT_LIMIT = 1000
CONTROL = "EDI_DC40"
READ_CHUNK = 64 * 1024
_MAX_DEPTH = 24  # the deepest IDoc type nests segments nine levels; a file deeper is hostile
_DEFINITION_NAME = re.compile(r"^E2(?P<type>[A-Z0-9_]+?)\d{3}$")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class IdocError(ValueError):
    """A file or an IDoc that is not IDoc XML as SAP writes it; says where and why."""


@dataclass
class Segment:
    """One data segment: its fields in order, and its child segments."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)
    children: list[Segment] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The field's value stripped, None when absent or blank."""
        value = self.fields.get(name)
        return value.strip() or None if value is not None else None

    def first(self, name: str, **where: str) -> Segment | None:
        """The first child segment `name` whose fields equal `where` (QUALF="002")."""
        return next(iter(self.all(name, **where)), None)

    def all(self, name: str, **where: str) -> list[Segment]:
        return [
            s
            for s in self.children
            if s.name == name and all(s.get(k) == v for k, v in where.items())
        ]

    def add(self, name: str, values: dict[str, Any] | None = None) -> Segment:
        """Append a child segment with `values` (None and "" left out); returns it."""
        child = Segment(name, {k: str(v) for k, v in (values or {}).items() if v not in (None, "")})
        self.children.append(child)
        return child

    def payload(self) -> int:
        """The characters of field data (what must fit in SEGMENT_LIMIT)."""
        return sum(len(v) for v in self.fields.values())


@dataclass
class Idoc:
    """One IDoc: its control record (EDI_DC40 fields) and its data segments."""

    control: dict[str, str]
    root: Segment = field(default_factory=lambda: Segment("IDOC"))
    line: int = 0  # where it begins in its file (1-based), 0 when not read from a file

    @property
    def docnum(self) -> str | None:
        return (self.control.get("DOCNUM") or "").strip() or None

    @property
    def mestyp(self) -> str:
        return (self.control.get("MESTYP") or "").strip()

    @property
    def idoctyp(self) -> str:
        return (self.control.get("IDOCTYP") or "").strip()

    def first(self, name: str, **where: str) -> Segment | None:
        return self.root.first(name, **where)

    def all(self, name: str, **where: str) -> list[Segment]:
        return self.root.all(name, **where)

    def add(self, name: str, values: dict[str, Any] | None = None) -> Segment:
        return self.root.add(name, values)


def segment_name(element: str) -> str:
    """The segment type of an element name: some adapters name segments after their
    definition (E2EDK01005) instead of their type (E1EDK01)."""
    match = _DEFINITION_NAME.match(element)
    return f"E1{match['type']}" if match else element


class _Node:
    __slots__ = ("attrs", "children", "line", "name", "size", "text")

    def __init__(self, name: str, attrs: dict[str, str], line: int) -> None:
        self.name, self.attrs, self.line = name, attrs, line
        self.text: list[str] = []
        self.size = 0
        self.children: list[_Node] = []


class _Builder:
    """expat handlers that turn the element stream into Idocs, one IDOC at a time."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.stack: list[_Node] = []
        self.root: str | None = None
        self.done: list[Idoc] = []
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.data
        parser.EntityDeclHandler = self.entity

    def entity(self, name: str, *_: Any) -> None:
        raise IdocError(f"line {self.parser.CurrentLineNumber}: entity {name!r} declared: refused")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        depth = len(self.stack)
        if depth == 0:
            if self.root is not None:
                raise IdocError(f"line {line}: a second root element <{name}>")
            self.root = name
        elif depth == 1 and name != "IDOC":
            raise IdocError(f"line {line}: <{name}> where an <IDOC> was expected")
        elif depth >= _MAX_DEPTH:
            raise IdocError(f"line {line}: segments nested deeper than {_MAX_DEPTH} levels")
        node = _Node(name, attrs, line)
        if depth >= 2:  # the root keeps no IDOC: each is let go once it is read
            self.stack[-1].children.append(node)
        self.stack.append(node)

    def data(self, text: str) -> None:
        node = self.stack[-1] if self.stack else None
        if node is None or len(self.stack) < 3:
            return
        node.size += len(text)
        if node.size > SEGMENT_LIMIT:
            raise IdocError(
                f"line {self.parser.CurrentLineNumber}: <{node.name}> holds more than "
                f"{SEGMENT_LIMIT} characters, more than an IDoc segment carries"
            )
        node.text.append(text)

    def end(self, name: str) -> None:
        node = self.stack.pop()
        if len(self.stack) == 1:  # an IDOC is complete
            self.done.append(self._idoc(node))

    def _idoc(self, node: _Node) -> Idoc:
        if not node.children or node.children[0].name != CONTROL:
            raise IdocError(f"line {node.line}: the IDOC does not begin with its {CONTROL}")
        control = {c.name: "".join(c.text).strip() for c in node.children[0].children}
        root = Segment("IDOC", children=[self._segment(c) for c in node.children[1:]])
        return Idoc(control, root, node.line)

    def _segment(self, node: _Node) -> Segment:
        segment = Segment(segment_name(node.name))
        for child in node.children:
            if child.children or "SEGMENT" in child.attrs:
                segment.children.append(self._segment(child))
            else:
                segment.fields[child.name] = "".join(child.text)
        if segment.payload() > SEGMENT_LIMIT:
            raise IdocError(
                f"line {node.line}: segment {segment.name} carries {segment.payload()} "
                f"characters, more than an IDoc segment's {SEGMENT_LIMIT}"
            )
        return segment


def read_idocs(stream: IO[bytes]) -> Iterator[Idoc]:
    """The IDocs of an IDoc-XML file, in order, read from `stream` in chunks. Raises
    IdocError (with the line and the parser's own words) where the file stops being IDoc
    XML; the IDocs before that point have been yielded."""
    parser = xml.parsers.expat.ParserCreate()
    builder = _Builder(parser)
    seen = False
    while True:
        chunk = stream.read(READ_CHUNK)
        try:
            parser.Parse(chunk, not chunk)
        except (xml.parsers.expat.ExpatError, IdocError) as exc:
            yield from builder.done  # the IDocs complete before the break are read
            if isinstance(exc, IdocError):
                raise
            raise IdocError(f"not well-formed XML: {exc}") from None
        for idoc in builder.done:
            seen = True
            yield idoc
        builder.done.clear()
        if not chunk:
            break
    parser.StartElementHandler = parser.EndElementHandler = None  # no cycle left to collect
    parser.CharacterDataHandler = parser.EntityDeclHandler = None
    if not seen:
        raise IdocError(f"the file holds no IDOC (its root is <{builder.root or '?'}>)")


def _check(segment: Segment, where: str) -> None:
    for name, value in segment.fields.items():
        if _XML_ILLEGAL.search(value):
            raise IdocError(f"{where} {segment.name}-{name}: a control character XML cannot carry")
    if segment.payload() > SEGMENT_LIMIT:
        raise IdocError(
            f"{where} segment {segment.name} carries {segment.payload()} characters, more "
            f"than an IDoc segment's {SEGMENT_LIMIT}"
        )
    for child in segment.children:
        _check(child, where)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class IdocWriter:
    """Writes IDocs of one basic type to a binary stream: ``with IdocWriter(out, "MATMAS05")
    as writer: writer.write(idoc)``. Characters the encoding lacks become references."""

    def __init__(self, out: IO[bytes], basic_type: str, encoding: str = "UTF-8") -> None:
        self.out, self.basic_type, self.encoding = out, basic_type, encoding
        self.count = 0
        self._put(f'<?xml version="1.0" encoding="{encoding}"?>\n<{basic_type}>\n')

    def _put(self, text: str) -> None:
        self.out.write(text.encode(self.encoding, "xmlcharrefreplace"))

    def write(self, idoc: Idoc) -> None:
        """Append one IDoc; IdocError (naming the segment and field) when a segment would not
        fit SAP's limits or a value holds what XML cannot carry."""
        where = f"IDoc {idoc.docnum or idoc.mestyp}:"
        _check(Segment(CONTROL, dict(idoc.control)), where)
        for segment in idoc.root.children:
            _check(segment, where)
        parts = ['<IDOC BEGIN="1">\n', self._segment(Segment(CONTROL, dict(idoc.control)), 1)]
        parts += [self._segment(s, 1) for s in idoc.root.children]
        parts.append("</IDOC>\n")
        self._put("".join(parts))
        self.count += 1

    def _segment(self, segment: Segment, depth: int) -> str:
        pad = "  " * depth
        inner = "".join(
            f"{pad}  <{name}>{_escape(value)}</{name}>\n" for name, value in segment.fields.items()
        )
        inner += "".join(self._segment(child, depth + 1) for child in segment.children)
        return f'{pad}<{segment.name} SEGMENT="1">\n{inner}{pad}</{segment.name}>\n'

    def close(self) -> None:
        self._put(f"</{self.basic_type}>\n")

    def __enter__(self) -> IdocWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.close()


# --- IDocs as JSON (the sandbox's seed and dump shape) ----------------------------------------


def _segment_from_json(name: str, data: dict[str, Any], where: str) -> Segment:
    segment = Segment(segment_name(name))
    for key, value in data.items():
        if isinstance(value, dict):
            segment.children.append(_segment_from_json(key, value, f"{where}.{key}"))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise IdocError(f"{where}.{key}[{i}]: a segment must be an object")
                segment.children.append(_segment_from_json(key, item, f"{where}.{key}[{i}]"))
        elif value is not None:
            if isinstance(value, bool):
                raise IdocError(f"{where}.{key}: IDoc fields are text or numbers, not booleans")
            segment.fields[key] = str(value)
    return segment


def idoc_from_json(data: dict[str, Any], where: str = "IDoc") -> Idoc:
    """An Idoc from its JSON form: ``{"EDI_DC40": {...}, "E1EDK01": {...}, "E1EDP01":
    [{..., "E1EDP19": [{...}]}]}`` (a segment is an object of fields, a repeated segment a
    list of objects). IdocError names the place of what is not that shape."""
    if not isinstance(data, dict):
        raise IdocError(f"{where}: an IDoc must be an object")
    control = data.get(CONTROL)
    if not isinstance(control, dict):
        raise IdocError(f"{where}: {CONTROL} (the control record) is missing")
    body = {k: v for k, v in data.items() if k != CONTROL}
    root = _segment_from_json("IDOC", body, where)
    if root.fields:
        raise IdocError(f"{where}: {', '.join(root.fields)}: fields outside any segment")
    return Idoc({k: str(v) for k, v in control.items() if v is not None}, root)


def _segment_to_json(segment: Segment) -> dict[str, Any]:
    out: dict[str, Any] = dict(segment.fields)
    for child in segment.children:
        out.setdefault(child.name, []).append(_segment_to_json(child))
    return out


def idoc_to_json(idoc: Idoc) -> dict[str, Any]:
    """The JSON form of `idoc` (every segment as a list, so repeated ones read alike)."""
    return {CONTROL: dict(idoc.control), **_segment_to_json(idoc.root)}
