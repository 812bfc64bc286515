"""The source grammar `DRIVER[:DEVICE][,key=value]...`, shared by every command that takes a source."""

from __future__ import annotations

import pytest

from analyzers.source_spec import SourceSpec, SourceSpecError, parse_source


@pytest.mark.parametrize(
    ("text", "expected", "label"),
    [
        ("simulated", SourceSpec("simulated"), "simulated"),
        ("nvml:0", SourceSpec("nvml", "0"), "nvml:0"),
        ("rapl", SourceSpec("rapl"), "rapl"),
        ("ptd://127.0.0.1:8888", SourceSpec("ptd", "ptd://127.0.0.1:8888"), "ptd://127.0.0.1:8888"),
        (
            "yokogawa:/dev/ttyUSB0,channels=3",
            SourceSpec("yokogawa", "/dev/ttyUSB0", {"channels": 3}),
            "yokogawa:/dev/ttyUSB0",
        ),
        (
            "yokogawa:socket://10.0.0.5:10001",
            SourceSpec("yokogawa", "socket://10.0.0.5:10001"),
            "yokogawa:socket://10.0.0.5:10001",
        ),
        (
            "redfish:https://bmc,chassis=1",
            SourceSpec("redfish", "https://bmc", {"chassis": 1}),
            "redfish:https://bmc",
        ),
        (
            "lpm01a:/dev/ttyACM0,volts=1.8,output=current",
            SourceSpec("lpm01a", "/dev/ttyACM0", {"volts": 1.8, "output": "current"}),
            "lpm01a:/dev/ttyACM0",
        ),
        (
            "simulated,seed=3,strict=true",
            SourceSpec("simulated", "", {"seed": 3, "strict": True}),
            "simulated",
        ),
    ],
)
def test_sources_parse_into_driver_device_and_typed_options(
    text: str, expected: SourceSpec, label: str
) -> None:
    assert parse_source(text) == expected
    assert parse_source(text).label == label


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("", "a source is empty"),
        ("9volt:/dev/x", "'9volt' is not a driver name"),
        ("nvml:0,channels", "option 'channels' is not key=value"),
        ("nvml:0,seed=1,seed=2", "option 'seed' is given twice"),
        ("nvml:0,=3", "option '=3' is not key=value"),
    ],
)
def test_a_source_off_the_grammar_is_one_sentence(text: str, sentence: str) -> None:
    with pytest.raises(SourceSpecError, match=sentence):
        parse_source(text)


def test_a_spec_opens_its_driver_with_its_options() -> None:
    analyzer = parse_source("simulated:bench,seed=9,channels=2").open()
    assert (analyzer.device, analyzer.channel_count) == ("bench", 2)
    analyzer.close()
