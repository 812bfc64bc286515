"""Every Yokogawa dialect's session, byte for byte, over a scripted transport.

Each line below is spelled out as the manuals give it (not derived from `dialects.py`), so a change
to any command the driver sends fails here: identify, set-up, the range read-back, fixing a voltage
range, the update rate, two synchronised updates (the second held until `stop` has been asked, as a
meter answers at its next update), the stop and the release. The pty/TCP fakes (`test_yokogawa.py`)
stay for the transports and the timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from analyzers.errors import AnalyzerProtocolError
from analyzers.scripted_transport import Exchange, ScriptedTransport
from analyzers.yokogawa import YokogawaAnalyzer

REMOTE = [":COMMunicate:REMote ON", ":COMMunicate:HEADer OFF", ":COMMunicate:VERBose OFF"]
NO_ERROR = '0,"No error"'
WAIT = ":COMMunicate:WAIT 1"


def wt300_items(elements: int, sigma: bool) -> list[str]:
    items = [f"{f},{e}" for e in range(1, elements + 1) for f in ("U", "I", "P", "LAMBda")]
    items += ["P,SIGMA"] if sigma else []
    return [f":NUMeric:NORMal:NUMber {len(items)}"] + [
        f":NUMeric:NORMal:ITEM{n} {item}" for n, item in enumerate(items, start=1)
    ]


@dataclass(frozen=True)
class Family:
    idn_model: str
    elements: int
    setup: tuple[str, ...]  # after `*CLS`: the dialect's set-up, the sync filter, the numeric items
    values_query: str
    rate: str  # the `{rate}` command for one update a second
    sigma: bool
    channels: int | None = None  # when *IDN? does not say how many elements are fitted


def _wt300_family(model: str, elements: int, wt300_mode: bool, rate: str = ":RATE 1S") -> Family:
    mode = [":SYSTem:COMMunicate:COMMand WT300"] if wt300_mode else []
    return Family(
        model,
        elements,
        (
            *REMOTE,
            *mode,
            ":NUMeric:FORMat ASCII",
            ":STATus:FILTer1 FALL",
            *wt300_items(elements, elements > 1),
        ),
        ":NUMeric:NORMal:VALue?",
        rate,
        elements > 1,
    )


FAMILIES = {
    "WT310": _wt300_family("WT310", 1, wt300_mode=True),
    "WT330": _wt300_family("WT332", 2, wt300_mode=True),
    "WT500": _wt300_family("760202", 2, wt300_mode=False),
    "WT1800": _wt300_family("WT1802", 2, wt300_mode=False),
    "WT5000": Family(**{**_wt300_family("WT5000", 2, wt300_mode=False).__dict__, "channels": 2}),
    "WT210": Family(
        "760401",
        1,
        (
            *REMOTE,
            ":MEASure:NORMal:ITEM:PRESet CLEar",
            ":MEASure:FORMat ASCII",
            ":STATus:FILTer1 FALL",
            ":MEASure:NORMal:ITEM:V:ELEMent1 ON",
            ":MEASure:NORMal:ITEM:A:ELEMent1 ON",
            ":MEASure:NORMal:ITEM:W:ELEMent1 ON",
            ":MEASure:NORMal:ITEM:PF:ELEMent1 ON",
        ),
        ":MEASure:NORMal:VALue?",
        ":SAMPle:RATE 1S",
        False,
    ),
}


def targets(family: Family) -> list[str]:
    return [""] if family.elements == 1 else [f":ELEMent{e}" for e in range(1, family.elements + 1)]


def update(family: Family, k: int) -> tuple[str, list[float]]:
    """The reply to update `k`, and the watts per element in it."""
    fields: list[str] = []
    watts = []
    for e in range(1, family.elements + 1):
        p = 50.0 * e + k
        watts.append(p)
        fields += ["2.3010E+02", f"{p / 230.1 / 0.9:.4E}", f"{p:.4E}", "9.0000E-01"]
    if family.sigma:
        fields.append(f"{sum(watts):.4E}")
    return ",".join(fields), watts


def session(family: Family, stop_asked: Callable[[], bool]) -> list[Exchange]:
    t = targets(family)
    first, second = update(family, 1)[0], update(family, 2)[0]
    sampling_round = [Exchange(":STATus:EESR?", ["1"])] + [
        Exchange(f":INPut:CURRent:RANGe{x}?", ["5.0E+00"])
        for x in t  # current autoranges: re-read
    ]
    return [
        Exchange("*IDN?", [f"YOKOGAWA,{family.idn_model},C2PH13047V,F1.03"]),
        Exchange("*CLS"),
        *(Exchange(line) for line in family.setup),
        Exchange(":STATus:ERRor?", [NO_ERROR]),
        *(Exchange(f":INPut:VOLTage:RANGe{x}?", ["3.0E+02"]) for x in t),
        *(Exchange(f":INPut:CURRent:RANGe{x}?", ["5.0E+00"]) for x in t),
        *(Exchange(f":INPut:VOLTage:AUTO{x}?", ["0"]) for x in t),
        *(Exchange(f":INPut:CURRent:AUTO{x}?", ["1"]) for x in t),
        # set_volts_range(150): every element, then one error check, then the read-back
        *(
            line
            for x in t
            for line in (Exchange(f":INPut:VOLTage:AUTO{x} OFF"), Exchange(f":INPut:VOLTage:RANGe{x} 150V"))
        ),
        Exchange(":STATus:ERRor?", [NO_ERROR]),
        *(Exchange(f":INPut:VOLTage:RANGe{x}?", ["1.5E+02"]) for x in t),
        # get_ranges(): not sampling, so read from the meter, element by element
        *(
            line
            for x in t
            for line in (
                Exchange(f":INPut:VOLTage:RANGe{x}?", ["1.5E+02"]),
                Exchange(f":INPut:CURRent:RANGe{x}?", ["5.0E+00"]),
                Exchange(f":INPut:VOLTage:AUTO{x}?", ["0"]),
                Exchange(f":INPut:CURRent:AUTO{x}?", ["1"]),
            )
        ),
        # start(1.0): the update rate, then the thread forgets earlier updates and waits for fresh ones
        Exchange(family.rate),
        Exchange(":STATus:ERRor?", [NO_ERROR]),
        Exchange(":STATus:EESR?", ["0"]),
        Exchange(f"{WAIT};{family.values_query}", [first]),
        *sampling_round,
        # The next update arrives once `stop` has been asked: the loop takes it, then ends.
        Exchange(f"{WAIT};{family.values_query}", [second], held_until=stop_asked),
        *sampling_round,
        Exchange(":COMMunicate:REMote OFF"),  # close: the front panel works again
    ]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_whole_session_is_the_scripted_exchange(name: str) -> None:
    family = FAMILIES[name]
    meters: list[YokogawaAnalyzer] = []
    script = session(family, stop_asked=lambda: bool(meters) and meters[0].stopping)
    transport = ScriptedTransport(script, device=f"scripted-{name}")
    meter = YokogawaAnalyzer(transport, channels=family.channels)
    meters.append(meter)
    assert meter.dialect.family == name and meter.channel_count == family.elements
    meter.set_volts_range(150)
    ranges = meter.get_ranges()
    assert (ranges.volts.value, ranges.volts.auto, ranges.amps.value, ranges.amps.auto) == (
        150,
        False,
        5,
        True,
    )
    meter.start(1.0)
    second_wait = max(i for i, step in enumerate(script) if step.sent and step.sent.startswith(WAIT))
    assert transport.wait_for_step(second_wait)
    meter.stop()  # asked while the meter waits for its next update: that update still arrives
    trace = meter.fetch()
    meter.close()
    transport.verify()
    assert len(trace) == 2
    expected = [update(family, k)[1] for k in (1, 2)]
    if family.elements == 1:
        assert trace.watts.tolist() == [w[0] for w in expected]
    else:
        per_channel = np.array([channel.watts for channel in trace.channels]).T
        assert per_channel.tolist() == expected
        assert trace.watts.tolist() == [sum(w) for w in expected]


def test_an_unscripted_line_fails_the_driver_and_the_script() -> None:
    transport = ScriptedTransport([Exchange("*IDN?", ["YOKOGAWA,WT310,C2PH13047V,F1.03"]), Exchange("*RST")])
    with pytest.raises(AnalyzerProtocolError, match="unscripted line '\\*CLS'"):
        YokogawaAnalyzer(transport)
    with pytest.raises(AssertionError, match="step 1: expected '\\*RST', the driver wrote '\\*CLS'"):
        transport.verify()


def test_a_step_never_reached_fails_the_script() -> None:
    transport = ScriptedTransport([Exchange("*IDN?", ["YOKOGAWA,WT9000,X,F1"]), Exchange("*CLS")])
    with pytest.raises(AnalyzerProtocolError, match="WT9000 is not supported"):
        YokogawaAnalyzer(transport)
    with pytest.raises(AssertionError, match="1 scripted step\\(s\\) never reached, first '\\*CLS'"):
        transport.verify()
