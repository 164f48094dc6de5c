"""IDoc XML both ways: several IDocs a file streamed one at a time, the prolog's encoding,
definition names, SAP's limits, and what is refused (entities, other roots, big segments)."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from ihost_sap_sftp.idoc import (
    SEGMENT_LIMIT,
    Idoc,
    IdocError,
    IdocWriter,
    idoc_from_json,
    idoc_to_json,
    read_idocs,
)


def order(number: int) -> Idoc:
    idoc = Idoc({"TABNAM": "EDI_DC40", "DOCNUM": f"{number:016d}", "MESTYP": "ORDERS"})
    idoc.add("E1EDK01", {"CURCY": "EUR", "BELNR": f"{number:010d}"})
    item = idoc.add("E1EDP01", {"POSEX": "000010", "MENGE": "2"})
    item.add("E1EDP19", {"QUALF": "002", "IDTNR": "MUG-01", "KTEXT": "Mok <&> 'ü'"})
    return idoc


def written(*idocs: Idoc, encoding: str = "UTF-8") -> bytes:
    out = io.BytesIO()
    with IdocWriter(out, "ORDERS05", encoding) as writer:
        for idoc in idocs:
            writer.write(idoc)
    return out.getvalue()


def test_what_is_written_reads_back_the_same() -> None:
    (back,) = list(read_idocs(io.BytesIO(written(order(1)))))
    assert idoc_to_json(back) == idoc_to_json(order(1))
    assert back.first("E1EDP01").first("E1EDP19", QUALF="002").get("KTEXT") == "Mok <&> 'ü'"


def test_the_prolog_encoding_wins_over_a_guess() -> None:
    data = written(order(1), encoding="ISO-8859-1")
    assert "ü".encode("latin-1") in data and "ü".encode() not in data
    (back,) = list(read_idocs(io.BytesIO(data)))
    assert back.first("E1EDP01").first("E1EDP19").get("KTEXT") == "Mok <&> 'ü'"


def test_definition_names_read_as_segment_types() -> None:
    data = (
        b'<ORDERS05><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><DOCNUM>7</DOCNUM></EDI_DC40>'
        b'<E2EDK01005 SEGMENT="1"><BELNR>42</BELNR></E2EDK01005></IDOC></ORDERS05>'
    )
    (back,) = list(read_idocs(io.BytesIO(data)))
    assert back.first("E1EDK01").get("BELNR") == "42"


def _peak_reading(count: int) -> int:
    data = written(*(order(n) for n in range(count)))
    tracemalloc.start()
    seen = 0
    for idoc in read_idocs(io.BytesIO(data)):
        assert idoc.docnum == f"{seen:016d}"
        seen += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen == count
    return peak


def test_many_idocs_stream_without_holding_the_file() -> None:
    """Three times the IDocs, about the same memory: it is bounded by the read chunk."""
    small, large = _peak_reading(2000), _peak_reading(6000)
    assert large < small * 1.5, f"reading 6000 IDocs peaked at {large} bytes, 2000 at {small}"


def test_a_file_cut_short_yields_the_idocs_before_the_break_then_says_where() -> None:
    data = written(order(1), order(2))
    cut = data[: data.rindex(b"<IDOC") + 40]
    got: list[Idoc] = []
    with pytest.raises(IdocError, match="not well-formed XML"):
        for idoc in read_idocs(io.BytesIO(cut)):
            got.append(idoc)
    assert [i.docnum for i in got] == ["0000000000000001"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;">]>'
            b"<ORDERS05>&y;</ORDERS05>",
            "entity 'x' declared: refused",
        ),
        (b"<ORDERS05><PO/></ORDERS05>", "where an <IDOC> was expected"),
        (b'<ORDERS05><IDOC BEGIN="1"><E1EDK01/></IDOC></ORDERS05>', "does not begin with"),
        (b"<ORDERS05/>", "holds no IDOC"),
        (b"", "not well-formed"),
        (
            b'<ORDERS05><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"/><E1EDK01 SEGMENT="1"><BELNR>'
            + b"x" * (SEGMENT_LIMIT + 1)
            + b"</BELNR></E1EDK01></IDOC></ORDERS05>",
            "more than",
        ),
    ],
)
def test_what_is_not_idoc_xml_is_refused_saying_why(data: bytes, words: str) -> None:
    with pytest.raises(IdocError, match=words):
        list(read_idocs(io.BytesIO(data)))


def test_the_writer_refuses_what_sap_would_not_take() -> None:
    too_big = order(1)
    too_big.add("E1EDKT1", {f"F{i}": "x" * 100 for i in range(11)})
    with pytest.raises(IdocError, match="E1EDKT1 carries 1100 characters"):
        written(too_big)
    control = order(2)
    control.first("E1EDK01").fields["BELNR"] = "a\x01b"
    with pytest.raises(IdocError, match="E1EDK01-BELNR: a control character"):
        written(control)


def test_the_json_form_names_what_is_not_an_idoc() -> None:
    with pytest.raises(IdocError, match=r"EDI_DC40 \(the control record\) is missing"):
        idoc_from_json({"E1EDK01": {}})
    with pytest.raises(IdocError, match=r"IDoc.E1EDP01\[0\]: a segment must be an object"):
        idoc_from_json({"EDI_DC40": {}, "E1EDP01": ["x"]})
