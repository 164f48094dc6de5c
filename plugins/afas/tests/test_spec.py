"""UpdateConnector bodies against AFAS's OpenAPI files, as AFAS reads them.

Every test here needs those files: without them it skips, saying so, or fails when
IHOST_REQUIRE_SPECS=1 (CI)."""

from __future__ import annotations

from typing import Any

import pytest
from ihost_afas import spec

from host.testing.specs import need_specs

CONNECTORS = (
    "FbSales",
    "FbDirectInvoice",
    "FbDeliveryNote",
    "KnSalesRelationOrg",
    "KnSalesRelationPer",
    "FiEntries",
    "FbItemArticle",
)

#: AFAS's own examples that break the field lists of the same spec, and why
CONTRADICTIONS = {
    ("FbSales", "post", "Item Tekst"): "text lines without the unit every minimal example has",
    ("FbSales", "post", "vervoerder"): "VaIt 'wst' is not in the VaIt enum",
    ("FbDirectInvoice", "post", "Maximaal"): "Rout '' is not in its enum ['1']",
    ("FbDirectInvoice", "post", "vervoerder"): "VaIt 'wst' is not in the VaIt enum",
    ("KnSalesRelationOrg", "post", "EDA"): "a 14-character FiNr over maxLength",
    ("KnSalesRelationOrg", "post", "IBAN checkIBAN false"): "VaDu true where a string is listed",
    ("KnSalesRelationOrg", "post", "IBAN checkIBAN true"): "VaDu true where a string is listed",
    ("KnSalesRelationOrg", "put", "IBAN met BIC"): "Fields '' where an object is listed",
    ("KnSalesRelationPer", "put", "Instellingen debiteur wijzigen"): "InPv 'a' not in its enum",
    ("FiEntries", "post", "Journal"): "Fields as a list where an object is listed",
    ("FbDeliveryNote", "post", "EDA"): "Fields '' where an object is listed",
    ("FbDeliveryNote", "post", "insert"): "delivers against an order (SoOr) without DbId",
    ("FbDeliveryNote", "post", "korting"): "delivers against an order (SoOr) without DbId",
    ("FbDeliveryNote", "post", "korting 2"): "delivers against an order (SoOr) without DbId",
    ("FbDeliveryNote", "post", "vervoerer"): "VaIt 'wst' is not in the VaIt enum",
}


@pytest.fixture
def vendor() -> dict[str, Any]:
    """AFAS's OpenAPI files: skipped without them, an error when IHOST_REQUIRE_SPECS=1."""
    found = spec.vendor()
    need_specs(found is not None, "AFAS's OpenAPI files (afas/*.json)")
    assert found is not None
    return found


def all_examples() -> list[Any]:
    """(connector, method, example name) of AFAS's examples; one placeholder without the
    files, so that the test reports why it does not run."""
    found = [
        (connector, method, name)
        for connector in CONNECTORS
        for method in ("post", "put")
        for name in spec.examples(connector, method)
    ]
    return found or [pytest.param("", "", "", id="no-openapi-files")]


def test_the_specs_are_read_in_place(vendor: dict[str, Any]) -> None:
    assert {f"{c}_POST" for c in ("FbSales", "KnSalesRelationOrg", "FiEntries")} <= set(
        vendor["schemas"]
    )


@pytest.mark.parametrize(("connector", "method", "name"), all_examples())
def test_every_example_validates_unless_it_contradicts_the_spec(
    vendor: dict[str, Any], connector: str, method: str, name: str
) -> None:
    found = spec.vendor_problems(connector, method, spec.examples(connector, method)[name])
    if (connector, method, name) in CONTRADICTIONS:
        assert found, f"{name} now validates: drop it from CONTRADICTIONS"
    else:
        assert found == [], found


def test_bad_bodies_are_refused_naming_the_field(vendor: dict[str, Any]) -> None:
    body = {
        "FbSales": {
            "Element": {
                "Fields": {"OrNu": "X" * 13, "DbId": "10001"},
                "Objects": {
                    "FbSalesLines": {
                        "Element": {
                            "Fields": {"VaIt": "9", "ItCd": "A", "BiUn": "stk", "QuUn": "many"}
                        }
                    }
                },
            }
        }
    }
    assert spec.vendor_problems("FbSales", "post", body) == [
        "FbSales.Element.Fields.OrNu: 'XXXXXXXXXXXXX' is too long",
        "FbSales.Element.Objects.0.FbSalesLines.Element.0.Fields.QuUn: 'many' is not of type "
        "'number'",
        "FbSales.Element.Objects.0.FbSalesLines.Element.0.Fields.VaIt: '9' is not one of ['1', "
        "'10', '11', '14', '2', '3', '4', '5', '6', '7', '8']",
    ]
    assert spec.vendor_problems("FbSales", "post", {"FbSales": {"Element": {"Fields": {}}}}) == [
        "FbSales.Element.Fields: 'DbId' is a required property"
    ]


def test_forms_afas_accepts(vendor: dict[str, Any]) -> None:
    body = {
        "FbSales": {
            "Element": {
                "@OrNu": "1",
                "Fields": {"DbId": 10001, "InVa": "1", "Unit": "1"},
                "Objects": [
                    {
                        "FbSalesLines": {
                            "Element": [
                                {
                                    "Fields": {
                                        "VaIt": "2",
                                        "ItCd": "1000",
                                        "BiUn": "stk",
                                        "QuUn": 10.0,
                                        "Upri": "12.5",
                                        "Re": None,
                                    }
                                }
                            ]
                        }
                    }
                ],
            }
        }
    }
    assert spec.vendor_problems("FbSales", "post", body) == []
    assert spec.problems("FbSales", "post", body) == []  # by our description, then AFAS's
    assert spec.vendor_problems("NoSuchConnector", "post", body) is None
