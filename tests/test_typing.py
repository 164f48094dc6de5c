"""The host is a typed package: the wheel carries py.typed, and connectors check themselves
against `host.Connector` with mypy."""

from __future__ import annotations

import re
import textwrap
import zipfile
from pathlib import Path

from hatchling.builders.wheel import WheelBuilder
from mypy import api

ROOT = Path(__file__).resolve().parents[1]

CHECKED = textwrap.dedent(
    """
    from typing import Any

    from pydantic import BaseModel

    from host import Connector
    from ihost_afas.plugin import AfasPlugin
    from ihost_shopify.plugin import ShopifyPlugin
    from ihost_testconnectors.plugin import ErpPlugin, ShopPlugin

    afas: type[Connector] = AfasPlugin
    shopify: type[Connector] = ShopifyPlugin
    testshop: type[Connector] = ShopPlugin
    testerp: type[Connector] = ErpPlugin


    class AcmeSettings(BaseModel):
        token: str


    class NoCapabilities:
        name = "acme"
        title = "Acme"
        Settings = AcmeSettings

        def __init__(self, settings: AcmeSettings) -> None: ...


    class SettingsNotAModel:
        name = "acme"
        title = "Acme"
        Settings = dict
        capabilities = AfasPlugin.capabilities

        def __init__(self, settings: Any) -> None: ...


    class WantsMoreThanSettings:
        name = "acme"
        title = "Acme"
        Settings = AcmeSettings
        capabilities = AfasPlugin.capabilities

        def __init__(self, settings: AcmeSettings, client: Any) -> None: ...


    broken_1: type[Connector] = NoCapabilities
    broken_2: type[Connector] = SettingsNotAModel
    broken_3: type[Connector] = WantsMoreThanSettings
    """
)


def test_the_wheel_carries_py_typed(tmp_path: Path) -> None:
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = zipfile.ZipFile(wheel).namelist()
    assert "host/py.typed" in names and "host/connector.py" in names


def test_mypy_accepts_the_connectors_and_refuses_broken_ones(tmp_path: Path) -> None:
    module = tmp_path / "check_connectors.py"
    module.write_text(CHECKED)
    out, err, _ = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--follow-imports=silent",  # the connectors' own code is not what is checked here
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            str(module),
        ]
    )
    lines = CHECKED.splitlines()
    flagged = {
        lines[int(m[1]) - 1].split(":")[0]: m[2]
        for m in re.finditer(r"^\S+:(\d+): error: (.*)$", out, re.MULTILINE)
    }
    assert set(flagged) == {"broken_1", "broken_2", "broken_3"}, out + err
    assert all('variable has type "type[Connector]"' in m for m in flagged.values()), out
