"""The AFAS sandbox as AFAS documents it (api/afas.md §2, §3, §9), standing alone.

The sandbox works from the project's description of the connectors (connectors.json);
the test at the end, which needs AFAS's OpenAPI files, checks that description against
them. Without the files it skips, saying so (an error when IHOST_REQUIRE_SPECS=1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ihost_afas import sandbox as afas
from ihost_afas import spec
from ihost_afas.client import token_value
from ihost_afas.sandbox import AfasSandbox

from host.testing.specs import need_specs

STAMP = "2026-05-01T10:00:00Z"
NOT_EMULATED = "not emulated by the ihost sandbox"


@pytest.fixture
def box() -> Iterator[AfasSandbox]:
    running = AfasSandbox()
    with running:
        running.seed(
            afas.ARTICLES,
            [
                {"ItemCode": "A1", "Description": "Red mug", "BasicSalesPrice": 9.5},
                {"ItemCode": "A2", "Description": "Blue mug", "BasicSalesPrice": 10},
                {"ItemCode": "A3", "Description": "Red, large; cup", "BasicSalesPrice": 100},
                {"ItemCode": "A4", "Description": "Teapot", "DateModified": STAMP},
            ],
        )
        running.seed(afas.DEBTORS, [{"DebtorId": "10500", "DebtorName": "Anna de Vries"}])
        yield running


@pytest.fixture
def without_vendor_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh clone: no OpenAPI files beside the repository."""
    monkeypatch.setenv("IHOST_SPECS_DIR", str(tmp_path))
    spec.forget_vendor()
    yield
    monkeypatch.undo()
    spec.forget_vendor()


@pytest.fixture
def vendor() -> dict[str, Any]:
    """AFAS's OpenAPI files: skipped without them, an error when IHOST_REQUIRE_SPECS=1."""
    found = spec.vendor()
    need_specs(found is not None, "AFAS's OpenAPI files (afas/*.json)")
    assert found is not None
    return found


def call(
    box: AfasSandbox, method: str, path: str, body: Any = None, **params: Any
) -> httpx.Response:
    """One request to the sandbox's ProfitRestServices, with its token."""
    return httpx.request(
        method,
        f"{box.base_url}/ProfitRestServices/{path}",
        params=params,
        json=body,
        headers={"Authorization": f"AfasToken {token_value(box.token)}"},
    )


def codes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["ItemCode"] for row in response.json()["rows"]]


def refusal(response: httpx.Response, status: int = 500) -> str:
    """The externalMessage of AFAS's error body, after checking its shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"externalMessage", "errorNumber", "profitLogReference"}, body
    assert len(body["profitLogReference"]) == 32
    return str(body["externalMessage"])


def order(debtor: str = "10500", reference: str = "1001", **header: Any) -> dict[str, Any]:
    line = {"VaIt": "2", "ItCd": "A1", "BiUn": "stk", "QuUn": "2", "Upri": "9.50"}
    return {
        "FbSales": {
            "Element": {
                "Fields": {"DbId": debtor, "RfCs": reference, **header},
                "Objects": [{"FbSalesLines": {"Element": [{"Fields": line}]}}],
            }
        }
    }


# --- GetConnectors ------------------------------------------------------------------------


def test_filterjson_ands_the_fields_of_a_filter_and_ors_the_filters(box: AfasSandbox) -> None:
    document = {
        "Filters": {
            "Filter": [
                {
                    "@FilterId": "Filter 1",
                    "Field": [
                        {"@FieldId": "Description", "@OperatorType": "6", "#text": "red"},
                        {"@FieldId": "BasicSalesPrice", "@OperatorType": "2", "#text": "50"},
                    ],
                },
                {
                    "@FilterId": "Filter 2",
                    "Field": {"@FieldId": "ItemCode", "@OperatorType": "1", "#text": "A2"},
                },
            ]
        }
    }
    found = call(box, "GET", f"connectors/{afas.ARTICLES}", filterjson=json.dumps(document))
    assert sorted(codes(found)) == ["A2", "A3"]  # (red AND >= 50) OR A2
    commas = {"Filters": {"Filter": {"Field": {"@FieldId": "Description", "@OperatorType": "1"}}}}
    commas["Filters"]["Filter"]["Field"]["#text"] = "Red, large; cup"  # needs filterjson
    found = call(box, "GET", f"connectors/{afas.ARTICLES}", filterjson=json.dumps(commas))
    assert codes(found) == ["A3"]
    unknown = {"Filters": {"Filter": {"Field": {"@FieldId": "Colour", "@OperatorType": "1"}}}}
    answer = call(box, "GET", f"connectors/{afas.ARTICLES}", filterjson=json.dumps(unknown))
    assert refusal(answer) == "Connector field 'Colour' not found"


def test_numbers_sort_as_numbers_and_empty_values_first(box: AfasSandbox) -> None:
    path = f"connectors/{afas.ARTICLES}"
    assert codes(call(box, "GET", path, orderbyfieldids="BasicSalesPrice")) == [
        "A4",  # no price: first, as SQL Server sorts NULL
        "A1",
        "A2",
        "A3",
    ]
    assert codes(call(box, "GET", path, orderbyfieldids="-BasicSalesPrice")) == [
        "A3",
        "A2",
        "A1",
        "A4",
    ]
    cheap = call(
        box, "GET", path, filterfieldids="BasicSalesPrice", operatortypes="5", filtervalues="10.0"
    )
    assert codes(cheap) == ["A1"]
    answer = call(
        box, "GET", path, filterfieldids="BasicSalesPrice", operatortypes="1", filtervalues="ten"
    )
    assert "BasicSalesPrice" in answer.json()["internalMessage"]


def test_dates_sort_and_filter_as_dates_without_a_z(box: AfasSandbox) -> None:
    path = f"connectors/{afas.ARTICLES}"
    since = call(
        box,
        "GET",
        path,
        filterfieldids="DateModified",
        operatortypes="3",
        filtervalues="2026-05-01T10:00:00",
        orderbyfieldids="-DateModified,ItemCode",
    )
    assert codes(since) == ["A4"]  # the others were seeded now
    with_z = call(
        box, "GET", path, filterfieldids="DateModified", operatortypes="2", filtervalues=STAMP
    )
    assert "'Z'" in with_z.json()["internalMessage"]


def test_the_quick_filter_matches_a_value_in_any_field(box: AfasSandbox) -> None:
    found = call(
        box,
        "GET",
        f"connectors/{afas.ARTICLES}",
        filterfieldids="ItemCode",
        operatortypes="15",
        filtervalues="MUG",
    )
    assert sorted(codes(found)) == ["A1", "A2"]  # "mug" is in their Description


@pytest.mark.parametrize(
    "params",
    [{"take": "abc"}, {"skip": "abc"}, {"skip": "2", "take": "-1"}, {"skip": "-2", "take": "5"}],
)
def test_paging_afas_cannot_read_gets_its_error_body(
    box: AfasSandbox, params: dict[str, str]
) -> None:
    answer = call(box, "GET", f"connectors/{afas.ARTICLES}", **params)
    assert refusal(answer) == "An unexpected error has occurred."
    assert answer.json()["errorNumber"] == -2147180999


def test_metainfo_gives_a_connectors_fields(box: AfasSandbox) -> None:
    listed = call(box, "GET", "metainfo").json()
    assert {c["id"] for c in listed["getConnectors"]} == set(spec.get_connectors())
    assert {c["id"] for c in listed["updateConnectors"]} == set(spec.update_connectors())

    articles = call(box, "GET", f"metainfo/get/{afas.ARTICLES}").json()
    assert articles["name"] == afas.ARTICLES and articles["description"]
    item = next(f for f in articles["fields"] if f["id"] == "ItemCode")
    assert (item["dataType"], item["length"]) == ("string", 40)
    price = next(f for f in articles["fields"] if f["id"] == "BasicSalesPrice")
    assert price["dataType"] == "decimal"

    sales = call(box, "GET", "metainfo/update/FbSales").json()
    assert sales["name"] == "FbSales"
    header = {f["fieldId"]: f for f in sales["fields"]}
    assert header["OrNu"]["primaryKey"] and header["OrNu"]["length"] == 12
    assert header["DbId"]["mandatory"] and not header["RfCs"]["mandatory"]
    (lines,) = sales["objects"]
    line = {f["fieldId"]: f for f in lines["fields"]}
    assert lines["name"] == "FbSalesLines" and line["QuUn"]["dataType"] == "decimal"
    assert "2" in [v["id"] for v in line["VaIt"]["values"]]
    entries = call(box, "GET", "metainfo/update/FiEntries").json()
    assert entries["name"] == "FiEntryPar"  # FiEntries's root element

    assert NOT_EMULATED in refusal(call(box, "GET", "metainfo/get/Profit_Employees"), 401)
    assert NOT_EMULATED in refusal(call(box, "GET", "metainfo/update/KnEmployee"), 401)


# --- UpdateConnectors ---------------------------------------------------------------------


def test_a_body_with_another_root_element_is_refused(box: AfasSandbox) -> None:
    body = {"KnSalesRelationOrg": order()["FbSales"]}
    message = refusal(call(box, "POST", "connectors/FbSales", body))
    assert "root element 'FbSales'" in message and "'KnSalesRelationOrg'" in message
    journal = {"FiEntries": {"Element": {"Fields": {"Year": 2026, "Peri": 1, "JoCo": "20"}}}}
    assert "'FiEntryPar'" in refusal(call(box, "POST", "connectors/FiEntries", journal))
    assert box.dump(afas.ORDERS) == [] and box.dump("FbSales") == []


def test_lines_are_added_to_the_order_the_header_names(box: AfasSandbox) -> None:
    created = call(box, "POST", "connectors/FbSales", order())
    assert created.status_code == 201, created.text
    number = created.json()["results"]["FbSales"]["OrNu"]
    (row,) = box.dump(afas.ORDERS)
    assert (row["OrderNumber"], row["Quantity"], row["Gross"]) == (number, 2.0, 19.0)

    more = {
        "FbSales": {
            "Element": {
                "Fields": {"OrNu": number},
                "Objects": {
                    "FbSalesLines": {
                        "Element": {"Fields": {"VaIt": "2", "ItCd": "A2", "BiUn": "stk", "QuUn": 3}}
                    }
                },
            }
        }
    }
    added = call(box, "POST", "connectors/FbSales/FbSalesLines", more)
    assert added.status_code == 201, added.text
    assert added.json() == {"results": {"FbSales": {"OrNu": number}}}
    (row,) = box.dump(afas.ORDERS)  # no second order: lines on the first
    assert row["Quantity"] == 5.0
    assert [c["path"] for c in box.dump("FbSales")] == ["FbSales", "FbSales/FbSalesLines"]

    more["FbSales"]["Element"]["Fields"]["OrNu"] = "99999999"
    assert "does not exist: 99999999" in refusal(
        call(box, "POST", "connectors/FbSales/FbSalesLines", more)
    )
    del more["FbSales"]["Element"]["Fields"]["OrNu"]
    assert "'OrNu' is mandatory" in refusal(
        call(box, "POST", "connectors/FbSales/FbSalesLines", more)
    )
    more["FbSales"]["Element"]["Fields"]["OrNu"] = number
    more["FbSales"]["Element"]["Objects"]["FbSalesLines"]["Element"]["Fields"]["ItCd"] = "NOPE"
    assert "'Item' does not exist: NOPE" in refusal(
        call(box, "POST", "connectors/FbSales/FbSalesLines", more)
    )
    assert box.dump(afas.ORDERS)[0]["Quantity"] == 5.0


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "connectors/KnContact", {"KnContact": {"Element": {"Fields": {}}}}, 401),
        ("GET", "connectors/Profit_Article", None, 401),
        ("POST", "connectors/FbSales/FbSalesQuotationLines", None, 500),
        ("PUT", "connectors/FbSales/FbSalesLines", None, 500),
        ("DELETE", "connectors/FbSales/FbSales/@OrNu/60000001", None, 500),
        ("POST", "connectors/FbSales", "unknown field", 500),
        ("POST", "connectors/FbSales", "unknown object", 500),
        ("POST", "connectors/FbSales", "@Action", 500),
    ],
)
def test_what_the_sandbox_does_not_emulate_is_refused_loudly(
    box: AfasSandbox, method: str, path: str, body: Any, status: int
) -> None:
    if body == "unknown field":
        body = order(Colour="red")
    elif body == "unknown object":
        body = order()
        body["FbSales"]["Element"]["Objects"].append({"FbOrderSerialLines": {"Element": {}}})
    elif body == "@Action":
        body = order()
        body["FbSales"]["Element"]["Fields"]["@Action"] = "insert"
    elif body is None and method != "GET":
        body = order()
    assert NOT_EMULATED in refusal(call(box, method, path, body), status)
    assert box.dump(afas.ORDERS) == []


def test_an_unsupported_query_parameter_is_refused(box: AfasSandbox) -> None:
    answer = call(box, "GET", f"connectors/{afas.ARTICLES}", fields="ItemCode")
    assert "'fields'" in refusal(answer) and NOT_EMULATED in refusal(answer)


def test_a_body_is_taken_whole_or_not_at_all(box: AfasSandbox) -> None:
    body = order()
    body["FbSales"]["Element"] = [
        body["FbSales"]["Element"],
        {**body["FbSales"]["Element"], "Fields": {"DbId": "404"}},
    ]
    assert "does not exist: 404" in refusal(call(box, "POST", "connectors/FbSales", body))
    assert box.dump(afas.ORDERS) == []


def test_a_delivery_note_shows_with_its_track_and_trace(box: AfasSandbox) -> None:
    number = call(box, "POST", "connectors/FbSales", order()).json()["results"]["FbSales"]["OrNu"]
    note = {
        "FbDeliveryNote": {
            "Element": {
                "Fields": {"DbId": "10500", "SoOr": number, "TrPt": "PostNL", "TrTr": "3SX1"},
                "Objects": {
                    "FbDeliveryNoteLines": {
                        "Element": {"Fields": {"VaIt": "2", "ItCd": "A1", "BiUn": "stk", "QuUn": 2}}
                    }
                },
            }
        }
    }
    created = call(box, "POST", "connectors/FbDeliveryNote", note)
    assert created.status_code == 201, created.text
    (row,) = box.dump(afas.DELIVERIES)
    assert (row["OrderNumber"], row["CustomerReference"], row["TrackTrace"]) == (
        number,
        "1001",
        "3SX1",
    )
    assert row["Complete"] is True and row["Carrier"] == "PostNL"


# --- seeding ------------------------------------------------------------------------------


def test_seeded_rows_are_completed_as_afas_serves_them(box: AfasSandbox) -> None:
    before = datetime.now() - timedelta(days=1)
    box.seed(afas.DEBTORS, [{"DebtorId": "10600", "Email": "x@example.com"}])
    row = box.dump(afas.DEBTORS)[-1]
    assert set(row) == set(spec.get_connectors()[afas.DEBTORS].fields)
    assert row["Blocked"] is False and row["DebtorName"] is None and row["BcCo"]
    assert datetime.fromisoformat(row["ModifiedDate"].rstrip("Z")) > before
    box.seed(afas.ARTICLES, [{"ItemCode": "A9", "DateModified": "2026-05-02"}])
    assert box.dump(afas.ARTICLES)[-1]["DateModified"] == "2026-05-02T00:00:00Z"


@pytest.mark.parametrize(
    ("kind", "row", "named"),
    [
        ("Profit_Articles", {"ItemCode": "X"}, "'Profit_Articles'"),
        (afas.ARTICLES, {"ItemCode": "X", "Colour": "red"}, "'Colour'"),
        (afas.ARTICLES, {"ItemCode": "X", "BasicSalesPrice": "12.50"}, "BasicSalesPrice"),
        (afas.ARTICLES, {"ItemCode": "X", "Blocked": "no"}, "Blocked"),
        (afas.ARTICLES, {"ItemCode": "X" * 41}, "ItemCode"),
        (afas.ARTICLES, {"Description": "no code"}, "ItemCode"),
        (afas.ARTICLES, {"ItemCode": "A1"}, "ItemCode"),  # there already
        (afas.TRANSACTIONS, {"UnitId": 1, "EntryNo": "7", "SeqNo": 1}, "EntryNo"),
    ],
)
def test_a_seed_afas_could_not_hold_is_refused_naming_the_field(
    box: AfasSandbox, kind: str, row: dict[str, Any], named: str
) -> None:
    before = box.dump(afas.ARTICLES)
    with pytest.raises(ValueError, match=named) as info:
        box.seed(kind, [{"ItemCode": "OK"}, row] if kind == afas.ARTICLES else [row])
    assert kind.split("_")[0] in str(info.value)
    assert box.dump(afas.ARTICLES) == before  # all or nothing


def test_seeding_over_http(box: AfasSandbox) -> None:
    url = f"{box.base_url}/_sandbox/seed/{afas.STOCK}"
    rows = [{"ItemCode": "A1", "Warehouse": "*****", "StockActual": 7}]
    assert httpx.post(url, json=rows).json() == {"seeded": 1}
    more = {"records": [{"ItemCode": "A2", "Warehouse": "*****", "StockActual": 2}]}
    assert httpx.post(url, json=more).json() == {"seeded": 1}
    assert [r["StockActual"] for r in box.dump(afas.STOCK)] == [7, 2]
    refused = httpx.post(url, json=[{"ItemCode": "A3", "StockActual": "many"}])
    assert refused.status_code == 400 and "StockActual" in refused.json()["error"]
    unknown = httpx.post(f"{box.base_url}/_sandbox/seed/Nope", json=[])
    assert unknown.status_code == 400 and "'Nope'" in unknown.json()["error"]


# --- standing alone -----------------------------------------------------------------------


def test_the_sandbox_stands_alone_without_the_openapi_files(without_vendor_specs: None) -> None:
    assert spec.vendor() is None
    box = AfasSandbox()
    with box:
        box.seed(afas.ARTICLES, [{"ItemCode": "A1"}])
        box.seed(afas.DEBTORS, [{"DebtorId": "10500"}])
        assert call(box, "GET", "metainfo/update/FbSales").json()["name"] == "FbSales"
        long = refusal(call(box, "POST", "connectors/FbSales", order(OrNu="X" * 13)))
        assert "FbSales.Element.Fields.OrNu: 'XXXXXXXXXXXXX' is too long" in long
        assert NOT_EMULATED in refusal(call(box, "POST", "connectors/FbSales", order(Zz=1)))
        no_line_unit = order()
        del no_line_unit["FbSales"]["Element"]["Objects"][0]["FbSalesLines"]["Element"][0][
            "Fields"
        ]["BiUn"]
        assert "'BiUn' (Unit) is mandatory" in refusal(
            call(box, "POST", "connectors/FbSales", no_line_unit)
        )
        assert call(box, "POST", "connectors/FbSales", order()).status_code == 201


# --- our description against AFAS's -------------------------------------------------------

#: our data types -> the OpenAPI type (and format) of the same field
OPENAPI_TYPES = {
    "string": ("string", None),
    "date": ("string", "date"),
    "int": ("integer", None),
    "decimal": ("number", None),
    "boolean": ("boolean", None),
}


def _element(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of an object's element (an array's items, when listed as an array)."""
    element = schema["properties"]["Element"]
    found: dict[str, Any] = element.get("items", element)
    return found


def _nested(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    holder = _element(schema)["properties"].get("Objects", {})
    found: dict[str, Any] | None = holder.get("items", holder).get("properties", {}).get(name)
    return found


def _field_mismatches(ours: spec.Field, theirs: dict[str, Any], where: str) -> list[str]:
    kind, fmt = OPENAPI_TYPES[ours.type]
    found = []
    if theirs.get("type") != kind or (fmt == "date") != (theirs.get("format") == "date"):
        found.append(f"{where}: ours {ours.type}, AFAS {theirs.get('type')} {theirs.get('format')}")
    if ours.length != theirs.get("maxLength"):
        found.append(f"{where}: length {ours.length}, AFAS {theirs.get('maxLength')}")
    if not set(ours.values) <= set(theirs.get("enum", ours.values)):
        found.append(f"{where}: values {ours.values} beyond AFAS's {theirs.get('enum')}")
    return found


def _object_mismatches(
    ours: spec.UpdateObject,
    theirs: dict[str, Any],
    path: tuple[str, ...],
    required: set[tuple[str, ...]] | None,
) -> list[str]:
    """Where `ours` is not a faithful subset of AFAS's schema of the same object; with
    `required` (a POST: what AFAS's minimal examples prove mandatory), the mandatory
    flags too."""
    where = "/".join(path)
    properties = _element(theirs)["properties"].get("Fields", {})
    listed, raw_required = properties.get("properties", {}), set(properties.get("required", []))
    found = []
    for field in ours.fields.values():
        if field.id not in listed:
            found.append(f"{where}.{field.id}: not in AFAS's schema")
            continue
        found += _field_mismatches(field, listed[field.id], f"{where}.{field.id}")
        if required is not None and field.mandatory and field.id not in raw_required:
            found.append(f"{where}.{field.id}: mandatory here, not in AFAS's required list")
        if required is not None and (*path, field.id) in required and not field.mandatory:
            found.append(f"{where}.{field.id}: AFAS's minimal examples need it; not mandatory")
    if required is not None:
        found += [
            f"{where}.{f}: described nowhere, yet AFAS's minimal examples need it"
            for f in raw_required - set(ours.fields)
            if (*path, f) in required
        ]
    for name, nested in ours.objects.items():
        schema = _nested(theirs, name)
        if schema is None:
            found.append(f"{where}/{name}: no such object in AFAS's schema")
        else:
            found += _object_mismatches(nested, schema, (*path, name), required)
    return found


def _update_mismatches(connector: spec.UpdateConnector, vendor: dict[str, Any]) -> list[str]:
    found = []
    operations = vendor["paths"].get(f"/connectors/{connector.id}", {})
    for method in connector.methods:
        schema = vendor["schemas"].get(f"{connector.id}_{method}")
        if schema is None or method.lower() not in operations:
            found.append(f"{connector.id}: AFAS has no {method}")
            continue
        if list(schema["properties"]) != [connector.root.name]:
            found.append(f"{connector.id}: root {connector.root.name}, AFAS {list(schema)}")
            continue
        theirs = schema["properties"][connector.root.name]
        required = spec.minimal_fields(connector.id, "post") & {
            *(path for path in _raw_required_paths(theirs, (connector.root.name,)))
        }
        found += _object_mismatches(
            connector.root,
            theirs,
            (connector.root.name,),
            required if method == "POST" else None,
        )
        key_required = _element(theirs)["properties"].get("Fields", {}).get("required", [])
        if method == "PUT" and key_required and key_required != [connector.key]:
            found.append(f"{connector.id}: key {connector.key}, AFAS's PUT needs {key_required}")
    for sub in connector.sub_objects:
        if "post" not in vendor["paths"].get(f"/connectors/{connector.id}/{sub}", {}):
            found.append(f"{connector.id}/{sub}: AFAS has no such sub-object POST")
    return found


def _raw_required_paths(schema: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """(object path..., field) of every `required` entry in AFAS's schema of an object."""
    fields = _element(schema)["properties"].get("Fields", {})
    yield from ((*path, f) for f in fields.get("required", []))
    holder = _element(schema)["properties"].get("Objects", {})
    for name, nested in holder.get("items", holder).get("properties", {}).items():
        yield from _raw_required_paths(nested, (*path, name))


def _get_mismatches(connector: spec.GetConnector, vendor: dict[str, Any]) -> list[str]:
    operation = vendor["paths"].get(f"/connectors/{connector.id}", {}).get("get")
    if not connector.standard:
        return [f"{connector.id}: AFAS ships it; mark it standard"] if operation else []
    if operation is None:
        return [f"{connector.id}: not one of AFAS's GetConnectors"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    listed = schema["properties"]["rows"]["items"]["properties"]
    found = []
    for field in connector.fields.values():
        kind, _ = OPENAPI_TYPES[field.type]
        if field.id not in listed:
            found.append(f"{connector.id}.{field.id}: not in AFAS's rows")
        elif listed[field.id].get("type") != kind:
            found.append(f"{connector.id}.{field.id}: ours {field.type}, AFAS {listed[field.id]}")
    return found


def test_our_description_is_a_faithful_subset_of_afas_openapi_files(
    vendor: dict[str, Any],
) -> None:
    """Every connector, object and field the sandbox serves exists in AFAS's files, with
    a compatible type, the same maximum length and values among AFAS's; a field is
    mandatory only where AFAS lists it as required, and wherever AFAS's own minimal
    examples show it is (api/afas.md, appendix: the required lists say more than AFAS)."""
    found = [m for c in spec.update_connectors().values() for m in _update_mismatches(c, vendor)]
    found += [m for c in spec.get_connectors().values() for m in _get_mismatches(c, vendor)]
    assert found == []
