"""A fake Yokogawa WT310 / WT333 speaking the WT300 command set over a real transport.

It keeps its own update clock (`:RATE`): update k completes at t0 + k × rate. `:STATus:EESR?` returns
and clears the update bit; `:COMMunicate:WAIT 1` blocks until an update completed since the last clear,
as the meter does with `:STATus:FILTer1 FALL`. Readings are a function of the update index, so a test
can tell exactly which update each sample came from:

    element e (1-based), update k:  P = 50·e + 0.25·k W,  U = 230 + e V,  λ = 0.9,  I = P / (U·λ)

printed as the meter does, `%.5E` (six significant digits). Faults are scripted per numeric read
(the n-th `VALue?`, 1-based): sentinels, a garbled reply, a stall, a dropped connection.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from fakes.links import Endpoint
from fakes.scpi import command

RATES = {"100MS": 0.1, "250MS": 0.25, "500MS": 0.5, "1S": 1.0, "2S": 2.0, "5S": 5.0}
VOLTS_RANGES = (15.0, 30.0, 60.0, 150.0, 300.0, 600.0)
AMPS_RANGES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
NO_DATA = "9.91E+37"
OVER_RANGE = "9.9E+37"
GARBAGE = "\x15#@?!GARBLED:READ,,"


def fmt(value: float) -> str:
    return f"{value:.5E}"


def reading(k: int, element: int) -> dict[str, float]:
    """The values of update `k` on `element`, exactly as the fake prints them."""
    watts = 50.0 * element + 0.25 * k
    volts = 230.0 + element
    pf = 0.9
    amps = watts / (volts * pf)
    return {name: float(fmt(v)) for name, v in (("U", volts), ("I", amps), ("P", watts), ("LAMBDA", pf))}


def update_of(watts: float, element: int = 1) -> int:
    """Inverse of `reading`: the update index a watts value came from."""
    return round((watts - 50.0 * element) / 0.25)


@dataclass
class Element:
    volts_range: float = 600.0
    amps_range: float = 20.0
    volts_auto: bool = False
    amps_auto: bool = False


@dataclass
class Faults:
    """Scripted per numeric read number (1-based)."""

    sentinels: dict[int, dict[tuple[int, str], str]] = field(default_factory=dict)
    garbled: set[int] = field(default_factory=set)
    stall_s: dict[int, float] = field(default_factory=dict)
    disconnect_after: int | None = None


_COMMANDS = {
    "idn": command("*IDN?"),
    "cls": command("*CLS"),
    "remote": command("COMMunicate:REMote"),
    "header": command("COMMunicate:HEADer"),
    "verbose": command("COMMunicate:VERBose"),
    "mode": command("SYSTem:COMMunicate:COMMand"),
    "format": command("NUMeric:FORMat"),
    "filter": command("STATus:FILTer#"),
    "eesr": command("STATus:EESR?"),
    "wait": command("COMMunicate:WAIT"),
    "error": command("STATus:ERRor?"),
    "number": command("NUMeric:NORMal:NUMber"),
    "item": command("NUMeric:NORMal:ITEM#"),
    "values": command("NUMeric:NORMal:VALue?"),
    "rate": command("RATE"),
    "vrange_q": command("INPut:VOLTage:RANGe?"),
    "vrange_el_q": command("INPut:VOLTage:RANGe:ELEMent#?"),
    "vrange": command("INPut:VOLTage:RANGe"),
    "vrange_el": command("INPut:VOLTage:RANGe:ELEMent#"),
    "arange_q": command("INPut:CURRent:RANGe?"),
    "arange_el_q": command("INPut:CURRent:RANGe:ELEMent#?"),
    "arange": command("INPut:CURRent:RANGe"),
    "arange_el": command("INPut:CURRent:RANGe:ELEMent#"),
    "vauto_q": command("INPut:VOLTage:AUTO?"),
    "vauto_el_q": command("INPut:VOLTage:AUTO:ELEMent#?"),
    "vauto": command("INPut:VOLTage:AUTO"),
    "vauto_el": command("INPut:VOLTage:AUTO:ELEMent#"),
    "aauto_q": command("INPut:CURRent:AUTO?"),
    "aauto_el_q": command("INPut:CURRent:AUTO:ELEMent#?"),
    "aauto": command("INPut:CURRent:AUTO"),
    "aauto_el": command("INPut:CURRent:AUTO:ELEMent#"),
}


class FakeWT:
    """`model` "WT310" (one element) or "WT333" (three, with Σ)."""

    def __init__(self, model: str = "WT310", serial: str = "C2PH13047V", firmware: str = "F1.03") -> None:
        self.model = model
        self.idn = f"YOKOGAWA,{model},{serial},{firmware}"
        self.element_count = 3 if model.startswith("WT333") else 1
        self.elements = {e: Element() for e in range(1, self.element_count + 1)}
        self.faults = Faults()
        self.received: list[str] = []
        self.remote = False
        self.header = True
        self.items: dict[int, tuple[str, str]] = {}
        self.item_count = 0
        self.rate_s = 0.25
        self.errors: list[str] = []
        self.values_reads = 0
        self._t0 = time.monotonic()
        self._cleared_k = 0
        self._lock = threading.Lock()
        self._endpoint: Endpoint | None = None

    def attach(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint

    # -- the update clock -----------------------------------------------------------------------

    def update_index(self) -> int:
        return math.floor((time.monotonic() - self._t0) / self.rate_s)

    def _wait_for_update(self) -> None:
        target = self._cleared_k + 1
        while self.update_index() < target:
            time.sleep(max(0.0, self._t0 + target * self.rate_s - time.monotonic()) + 0.0005)

    # -- program messages -----------------------------------------------------------------------

    def handle(self, line: str) -> None:
        self.received.append(line)
        for message in filter(None, (part.strip() for part in line.split(";"))):
            reply = self._execute(message)
            if reply is not None:
                self._send(reply)

    def _send(self, text: str) -> None:
        assert self._endpoint is not None
        self._endpoint.send(text)

    def _execute(self, message: str) -> str | None:
        for name, pattern in _COMMANDS.items():
            match = pattern.fullmatch(message)
            if match is not None:
                return getattr(self, f"_do_{name}")(match.groups())
        self.errors.append('113,"Undefined header"')
        return None

    def _do_idn(self, groups: tuple[str | None, ...]) -> str:
        return self.idn

    def _do_cls(self, groups: tuple[str | None, ...]) -> None:
        self.errors.clear()

    def _do_remote(self, groups: tuple[str | None, ...]) -> None:
        self.remote = (groups[-1] or "").upper() in ("ON", "1")

    def _do_header(self, groups: tuple[str | None, ...]) -> None:
        self.header = (groups[-1] or "").upper() in ("ON", "1")

    def _do_verbose(self, groups: tuple[str | None, ...]) -> None:
        return None

    def _do_mode(self, groups: tuple[str | None, ...]) -> None:
        if (groups[-1] or "").upper() != "WT300":
            self.errors.append('224,"Illegal parameter value"')

    def _do_format(self, groups: tuple[str | None, ...]) -> None:
        if (groups[-1] or "").upper() != "ASCII":
            self.errors.append('224,"Illegal parameter value"')

    def _do_filter(self, groups: tuple[str | None, ...]) -> None:
        return None

    def _do_eesr(self, groups: tuple[str | None, ...]) -> str:
        with self._lock:
            k = self.update_index()
            bit = 1 if k > self._cleared_k else 0
            self._cleared_k = k
        return str(bit)

    def _do_wait(self, groups: tuple[str | None, ...]) -> None:
        self._wait_for_update()

    def _do_error(self, groups: tuple[str | None, ...]) -> str:
        return self.errors.pop(0) if self.errors else '0,"No error"'

    def _do_number(self, groups: tuple[str | None, ...]) -> None:
        self.item_count = int(groups[-1] or "0")

    def _do_item(self, groups: tuple[str | None, ...]) -> None:
        index, args = int(groups[0] or "0"), groups[1] or ""
        function, element = (part.strip().upper() for part in args.split(","))
        known_function = function in ("U", "I", "P", "LAMB", "LAMBDA")
        known_element = (element == "SIGMA" and self.element_count > 1) or (
            element.isdigit() and (1 <= int(element) <= self.element_count)
        )
        if not (known_function and known_element):
            self.errors.append('224,"Illegal parameter value"')
            return
        self.items[index] = ("LAMBDA" if function.startswith("LAMB") else function, element)

    def _do_rate(self, groups: tuple[str | None, ...]) -> None:
        rate = RATES.get((groups[-1] or "").upper())
        if rate is None:
            self.errors.append('224,"Illegal parameter value"')
            return
        with self._lock:
            self.rate_s = rate
            self._t0 = time.monotonic()
            self._cleared_k = 0

    def _do_values(self, groups: tuple[str | None, ...]) -> str | None:
        self.values_reads += 1
        n = self.values_reads
        stall = self.faults.stall_s.get(n)
        if stall:
            time.sleep(stall)  # busy: updates keep coming meanwhile
        k = self.update_index()
        if n in self.faults.garbled:
            reply: str = GARBAGE
        else:
            fields = [self._item_value(k, n, i) for i in range(1, self.item_count + 1)]
            reply = ",".join(fields)
        if self.faults.disconnect_after is not None and n > self.faults.disconnect_after:
            assert self._endpoint is not None
            self._endpoint.disconnect()
            return None
        return reply

    def _item_value(self, k: int, n: int, index: int) -> str:
        function, element = self.items[index]
        if element == "SIGMA":
            parts = [self._item_text(k, n, e, "P") for e in self.elements]
            if any(float(p) > 1e37 for p in parts):
                return OVER_RANGE
            return fmt(sum(float(p) for p in parts))
        return self._item_text(k, n, int(element), function)

    def _item_text(self, k: int, n: int, element: int, function: str) -> str:
        scripted = self.faults.sentinels.get(n, {}).get((element, function))
        if scripted is not None:
            return scripted
        values = reading(k, element)
        state = self.elements[element]
        volts_range = self._range(VOLTS_RANGES, values["U"]) if state.volts_auto else state.volts_range
        amps_range = self._range(AMPS_RANGES, values["I"]) if state.amps_auto else state.amps_range
        if values["U"] > 1.4 * volts_range or values["I"] > 1.4 * amps_range:
            if function in ("U", "I", "P"):
                return OVER_RANGE
            return NO_DATA
        return fmt(values[function])

    @staticmethod
    def _range(table: tuple[float, ...], value: float) -> float:
        return next((r for r in table if value <= r), table[-1])

    def current_ranges(self, element: int) -> tuple[float, float]:
        """The ranges in force now (auto: those holding the present reading)."""
        values = reading(self.update_index(), element)
        state = self.elements[element]
        volts = self._range(VOLTS_RANGES, values["U"]) if state.volts_auto else state.volts_range
        amps = self._range(AMPS_RANGES, values["I"]) if state.amps_auto else state.amps_range
        return volts, amps

    # -- ranges ---------------------------------------------------------------------------------

    def _element(self, groups: tuple[str | None, ...]) -> Element | None:
        if len(groups) == 2 and groups[0] is not None:
            number = int(groups[0])
            if number not in self.elements:
                self.errors.append('224,"Illegal parameter value"')
                return None
            return self.elements[number]
        return None

    def _targets(self, groups: tuple[str | None, ...]) -> list[Element]:
        one = self._element(groups)
        return [one] if one is not None else list(self.elements.values())

    def _range_reply(self, groups: tuple[str | None, ...], volts: bool) -> str:
        one = self._element(groups) or self.elements[1]
        number = next(n for n, e in self.elements.items() if e is one)
        value = self.current_ranges(number)[0 if volts else 1]
        return f"{value:.1E}"

    def _set_range(self, groups: tuple[str | None, ...], volts: bool) -> None:
        text = (groups[-1] or "").upper().rstrip("VA")
        table = VOLTS_RANGES if volts else AMPS_RANGES
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if value not in table:
            self.errors.append('224,"Illegal parameter value"')
            return
        for element in self._targets(groups):
            if volts:
                element.volts_range, element.volts_auto = value, False
            else:
                element.amps_range, element.amps_auto = value, False

    def _set_auto(self, groups: tuple[str | None, ...], volts: bool) -> None:
        state = (groups[-1] or "").upper() in ("ON", "1")
        for element in self._targets(groups):
            if volts:
                if not state:
                    element.volts_range = self.current_ranges(self._number(element))[0]
                element.volts_auto = state
            else:
                if not state:
                    element.amps_range = self.current_ranges(self._number(element))[1]
                element.amps_auto = state

    def _number(self, element: Element) -> int:
        return next(n for n, e in self.elements.items() if e is element)

    def _auto_reply(self, groups: tuple[str | None, ...], volts: bool) -> str:
        one = self._element(groups) or self.elements[1]
        return "1" if (one.volts_auto if volts else one.amps_auto) else "0"

    def _do_vrange_q(self, g: tuple[str | None, ...]) -> str:
        return self._range_reply(g, True)

    _do_vrange_el_q = _do_vrange_q

    def _do_arange_q(self, g: tuple[str | None, ...]) -> str:
        return self._range_reply(g, False)

    _do_arange_el_q = _do_arange_q

    def _do_vrange(self, g: tuple[str | None, ...]) -> None:
        self._set_range(g, True)

    _do_vrange_el = _do_vrange

    def _do_arange(self, g: tuple[str | None, ...]) -> None:
        self._set_range(g, False)

    _do_arange_el = _do_arange

    def _do_vauto_q(self, g: tuple[str | None, ...]) -> str:
        return self._auto_reply(g, True)

    _do_vauto_el_q = _do_vauto_q

    def _do_aauto_q(self, g: tuple[str | None, ...]) -> str:
        return self._auto_reply(g, False)

    _do_aauto_el_q = _do_aauto_q

    def _do_vauto(self, g: tuple[str | None, ...]) -> None:
        self._set_auto(g, True)

    _do_vauto_el = _do_vauto

    def _do_aauto(self, g: tuple[str | None, ...]) -> None:
        self._set_auto(g, False)

    _do_aauto_el = _do_aauto
