"""The driver registry: entry-point lookup, unknown names, options, broken plug-ins."""

from __future__ import annotations

import re
from importlib import metadata

import pytest

from analyzers import registry
from analyzers.errors import AnalyzerError, UnknownDriverError
from analyzers.simulated import SimulatedAnalyzer


def test_the_simulated_driver_is_installed_as_an_entry_point() -> None:
    installed = {ep.name: ep.value for ep in metadata.entry_points(group="joulebench.analyzers")}
    assert installed["simulated"] == "analyzers.simulated:SimulatedAnalyzer"
    assert registry.load_driver("simulated") is SimulatedAnalyzer
    assert "simulated" in registry.driver_names()


def test_an_unknown_driver_names_itself_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownDriverError) as caught:
        registry.create_analyzer("yokogawa-wt9000")
    message = str(caught.value)
    assert message.startswith(
        "yokogawa-wt9000: no analyzer driver of this name is installed (known drivers: "
    )
    assert "simulated" in message


def test_create_analyzer_passes_the_device_and_the_options() -> None:
    analyzer = registry.create_analyzer("simulated", "bench-1", seed=3, channels=2)
    assert isinstance(analyzer, SimulatedAnalyzer)
    assert (analyzer.device, analyzer.channel_count, analyzer.config.seed) == ("bench-1", 2, 3)


def test_an_option_the_driver_does_not_take_is_a_clear_error() -> None:
    with pytest.raises(
        AnalyzerError, match=r"driver simulated has no option baud \(its options: channels, clock"
    ):
        registry.create_analyzer("simulated", baud=9600)


def test_drivers_over_a_transport_are_opened_by_from_device() -> None:
    # The options are from_device's (the transport's baud rate and timeout among them), not __init__'s.
    with pytest.raises(
        AnalyzerError,
        match=re.escape(
            "driver yokogawa has no option baud (its options: baudrate, channels, first_element, timeout_s"
        ),
    ):
        registry.create_analyzer("yokogawa", "socket://127.0.0.1:9", baud=9600)
    with pytest.raises(AnalyzerError, match=re.escape("socket://127.0.0.1:9: cannot open")):
        registry.create_analyzer("yokogawa", "socket://127.0.0.1:9", timeout_s=0.5)
    with pytest.raises(AnalyzerError, match="supply voltage 5 V is outside"):
        registry.create_analyzer("lpm01a", "/dev/ttyNOT_OPENED", volts=5.0)  # checked before any port opens


def _with_entry_points(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    extra = [metadata.EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in values.items()]
    real = metadata.entry_points

    def fake(**selection: str) -> object:
        found = list(real(**selection))
        return [*found, *extra] if selection.get("group") == registry.ENTRY_POINT_GROUP else found

    monkeypatch.setattr(registry.metadata, "entry_points", fake)


def test_third_party_drivers_resolve_and_broken_ones_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry_points(
        monkeypatch,
        acme="analyzers.simulated.meter:SimulatedAnalyzer",
        notadriver="analyzers.trace:Trace",
        missing="analyzers.no_such_module:Meter",
    )
    names = registry.driver_names()
    assert names == sorted(names)
    assert {"acme", "missing", "notadriver", "simulated"} <= set(names)
    assert registry.create_analyzer("acme", "rack-7").device == "rack-7"
    with pytest.raises(
        AnalyzerError, match=re.escape("notadriver: analyzers.trace:Trace is not an Analyzer class")
    ):
        registry.load_driver("notadriver")
    with pytest.raises(
        AnalyzerError, match=re.escape("missing: driver analyzers.no_such_module:Meter could not be loaded")
    ):
        registry.load_driver("missing")
