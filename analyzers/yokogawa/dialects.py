"""The remote-control dialect of each Yokogawa family, as data: one `Dialect` per family, no branches.

Command names follow Yokogawa's communication interface manuals (WT310/WT310E/WT330 IM WT310-17EN,
WT500 IM 760201-17E, WT1800 IM WT1801-17EN, WT5000 IM WT5000-17EN, WT210 IM 760401-01E); range tables
and the power accuracy at 45-66 Hz come from each family's general specifications (GS). What was
checked against a fake instrument and what still needs the real meter is listed in
docs/INSTRUMENTS_DRIVERS.md: the WT310 and WT330 rows are exercised by tests; the other families'
rows are transcribed and a wrong entry shows up as a reply that does not parse (the driver checks the
number of values it gets back), never as silently wrong watts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# What the driver reads per element, in this order; the dialect names the function for each.
QUANTITIES = ("volts", "amps", "watts", "pf")

NO_DATA = 9.91e37
"""`9.91E+37`: the meter has no value for this item (not measured yet, undefined)."""
OVER_RANGE = 9.9e37
"""`9.9E+37`: the input exceeds its range (the display shows `-oL-`)."""


@dataclass(frozen=True)
class Accuracy:
    """Power accuracy at 45-66 Hz: ±(reading_fraction × reading + range_fraction × power range)."""

    reading_fraction: float
    range_fraction: float
    source: str


@dataclass(frozen=True)
class Variant:
    """One `*IDN?` model field: what PTD calls it and how many input elements it has."""

    idn_pattern: str
    ptd_model: str
    elements: int
    max_elements: int | None = None  # when `*IDN?` cannot tell how many are fitted

    @property
    def element_limit(self) -> int:
        return self.max_elements or self.elements

    def matches(self, idn_model: str) -> bool:
        return re.fullmatch(self.idn_pattern, idn_model.strip(), flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class NumericCommands:
    """Numeric items: `item` is formatted with index (1-based), function and element token."""

    item_count: str | None
    item: str
    values_query: str
    functions: Mapping[str, str]


@dataclass(frozen=True)
class SyncCommands:
    """Synchronisation to a fresh update: `setup` once, then per sample `wait`, the values query and
    `clear_query` (reading the extended event register clears it for the next update)."""

    setup: tuple[str, ...]
    wait: str
    clear_query: str


@dataclass(frozen=True)
class RangeCommands:
    """The range commands of one input quantity. `{target}` is the dialect's element target for one
    element, or "" for all elements; `{value}` a range, `{state}` ON or OFF."""

    quantity: str  # "voltage" or "current", for sentences
    unit: str  # "V" or "A"
    range_set: str
    range_query: str
    auto_set: str
    auto_query: str

    @classmethod
    def of_input(cls, quantity: str, unit: str, keyword: str) -> RangeCommands:
        """The `:INPut:<keyword>:RANGe` and `:AUTO` commands every family here shares."""
        return cls(
            quantity=quantity,
            unit=unit,
            range_set=f":INPut:{keyword}:RANGe{{target}} {{value:g}}{unit}",
            range_query=f":INPut:{keyword}:RANGe{{target}}?",
            auto_set=f":INPut:{keyword}:AUTO{{target}} {{state}}",
            auto_query=f":INPut:{keyword}:AUTO{{target}}?",
        )


@dataclass(frozen=True)
class RangeInput:
    """One input quantity of a family: its commands and its range table (ascending)."""

    commands: RangeCommands
    ranges: tuple[float, ...]


_NUMERIC_FUNCTIONS = MappingProxyType({"volts": "U", "amps": "I", "watts": "P", "pf": "LAMBda"})
_NUMERIC = NumericCommands(
    item_count=":NUMeric:NORMal:NUMber {count}",
    item=":NUMeric:NORMal:ITEM{index} {function},{element}",
    values_query=":NUMeric:NORMal:VALue?",
    functions=_NUMERIC_FUNCTIONS,
)
_SYNC = SyncCommands(setup=(":STATus:FILTer1 FALL",), wait=":COMMunicate:WAIT 1", clear_query=":STATus:EESR?")
_RELEASE = (":COMMunicate:REMote OFF",)


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """One family's commands; the defaults are what the WT300 lineage and its successors share."""

    family: str
    variants: tuple[Variant, ...]
    # Sent once after `*CLS`, in order: remote mode, terse replies, the numeric format.
    setup: tuple[str, ...]
    # Sent on close so the front panel works again.
    release: tuple[str, ...] = _RELEASE
    numeric: NumericCommands = _NUMERIC
    sigma_token: str | None = "SIGMA"
    sync: SyncCommands = _SYNC
    # `{target}` of the range commands for one element (`:ELEMent{element}`), "" when there is one.
    element_target: str = ":ELEMent{element}"
    volts: RangeInput
    amps: RangeInput
    # Update rate: seconds -> the argument of `rate_set`; None when the interval is fixed.
    rate_set: str | None = ":RATE {rate}"
    rates: Mapping[float, str]
    accuracy: Accuracy
    error_query: str = ":STATus:ERRor?"
    notes: tuple[str, ...] = field(default=())

    def variant_for(self, idn_model: str) -> Variant | None:
        return next((v for v in self.variants if v.matches(idn_model)), None)


def _rates(names: str) -> Mapping[float, str]:
    """A meter's update rates from its own names for them (`50MS 1S ...`): seconds -> name."""
    rates = {}
    for name in names.split():
        milliseconds = name.endswith("MS")
        rates[float(name[: -2 if milliseconds else -1]) / (1000 if milliseconds else 1)] = name
    return MappingProxyType(dict(sorted(rates.items())))


_WT300_RATES = _rates("100MS 250MS 500MS 1S 2S 5S")
_COMMON_SETUP = (":COMMunicate:REMote ON", ":COMMunicate:HEADer OFF", ":COMMunicate:VERBose OFF")
_NUMERIC_SETUP = (":NUMeric:FORMat ASCII",)
_VOLTS = RangeCommands.of_input("voltage", "V", "VOLTage")
_AMPS = RangeCommands.of_input("current", "A", "CURRent")


WT310 = Dialect(
    family="WT310",
    variants=(
        Variant(r"WT310", "YokogawaWT310", 1),
        Variant(r"WT310E", "YokogawaWT310E", 1),
    ),
    # WT310/WT310E answer in the WT300 command set only when told so (they also speak WT200's).
    setup=(*_COMMON_SETUP, ":SYSTem:COMMunicate:COMMand WT300", *_NUMERIC_SETUP),
    sigma_token=None,
    element_target="",  # one element: range commands take no element suffix
    volts=RangeInput(_VOLTS, (15.0, 30.0, 60.0, 150.0, 300.0, 600.0)),
    # WT310E direct input also has 5-200 mA ranges (GS WT310E-01EN); the WT310 starts at 0.5 A.
    amps=RangeInput(_AMPS, (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)),
    rates=_WT300_RATES,
    accuracy=Accuracy(0.001, 0.001, "GS WT310E-01EN: power, 45-66 Hz, ±(0.1 % of reading + 0.1 % of range)"),
    notes=("crest factor 3 ranges; with :INPut:CFACtor 6 every range is half",),
)

WT330 = Dialect(
    family="WT330",
    variants=(
        Variant(r"WT332", "YokogawaWT330", 2),
        Variant(r"WT333", "YokogawaWT330", 3),
        Variant(r"WT332E", "YokogawaWT330E", 2),
        Variant(r"WT333E", "YokogawaWT330E", 3),
    ),
    setup=(*_COMMON_SETUP, ":SYSTem:COMMunicate:COMMand WT300", *_NUMERIC_SETUP),
    volts=RangeInput(_VOLTS, (15.0, 30.0, 60.0, 150.0, 300.0, 600.0)),
    amps=RangeInput(_AMPS, (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)),
    rates=_WT300_RATES,
    accuracy=Accuracy(
        0.001, 0.001, "GS WT310E-01EN (WT300E series): power, 45-66 Hz, ±(0.1 % rdg + 0.1 % rng)"
    ),
)

WT210 = Dialect(
    family="WT210",
    # The WT210 reports its model code: 760401 (20 A input), 760403 (2 A input).
    variants=(Variant(r"760401|WT210", "YokogawaWT210", 1), Variant(r"760403", "YokogawaWT210", 1)),
    setup=(*_COMMON_SETUP, ":MEASure:NORMal:ITEM:PRESet CLEar", ":MEASure:FORMat ASCII"),
    # The WT210 switches functions on and off rather than numbering items; it reports them in its own
    # fixed function order (V, A, W, PF), which is also the order we ask for.
    numeric=NumericCommands(
        item_count=None,
        item=":MEASure:NORMal:ITEM:{function}:ELEMent{element} ON",
        values_query=":MEASure:NORMal:VALue?",
        functions=MappingProxyType({"volts": "V", "amps": "A", "watts": "W", "pf": "PF"}),
    ),
    sigma_token=None,
    element_target="",
    volts=RangeInput(_VOLTS, (15.0, 30.0, 60.0, 150.0, 300.0, 600.0)),
    amps=RangeInput(_AMPS, (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)),
    rate_set=":SAMPle:RATE {rate}",
    rates=_WT300_RATES,
    accuracy=Accuracy(0.001, 0.001, "GS 7604-01E (WT210): power, 45-66 Hz, ±(0.1 % rdg + 0.1 % rng)"),
    notes=("unverified against a real WT210: item selection and the update-rate command",),
)

WT500 = Dialect(
    family="WT500",
    variants=(
        Variant(r"760201|WT500", "YokogawaWT500", 1),
        Variant(r"760202", "YokogawaWT500", 2),
        Variant(r"760203", "YokogawaWT500", 3),
    ),
    setup=(*_COMMON_SETUP, *_NUMERIC_SETUP),
    volts=RangeInput(_VOLTS, (15.0, 30.0, 60.0, 100.0, 150.0, 300.0, 600.0, 1000.0)),
    amps=RangeInput(_AMPS, (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0)),
    rates=_rates("100MS 200MS 500MS 1S 2S 5S 10S 20S"),
    accuracy=Accuracy(0.001, 0.001, "GS 760201-01E (WT500): power, 45-66 Hz, ±(0.1 % rdg + 0.1 % rng)"),
    notes=("unverified against a real WT500",),
)

WT1800 = Dialect(
    family="WT1800",
    variants=tuple(Variant(rf"WT180{n}E?", "YokogawaWT1800", n) for n in range(1, 7)),
    setup=(*_COMMON_SETUP, *_NUMERIC_SETUP),
    volts=RangeInput(_VOLTS, (1.5, 3.0, 6.0, 10.0, 15.0, 30.0, 60.0, 100.0, 150.0, 300.0, 600.0, 1000.0)),
    amps=RangeInput(_AMPS, (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)),  # the 50 A element, direct input
    rates=_rates("50MS 100MS 200MS 500MS 1S 2S 5S 10S 20S"),
    accuracy=Accuracy(0.0005, 0.001, "GS WT1801-01EN (WT1800): power, 45-66 Hz, ±(0.05 % rdg + 0.1 % rng)"),
    notes=("unverified against a real WT1800; 5 A elements have other current ranges",),
)

WT5000 = Dialect(
    family="WT5000",
    # The model field does not say how many elements are fitted (up to 7): pass `channels`.
    variants=(Variant(r"WT5000", "YokogawaWT5000", 1, max_elements=7),),
    setup=(*_COMMON_SETUP, *_NUMERIC_SETUP),
    volts=RangeInput(_VOLTS, (1.5, 3.0, 6.0, 10.0, 15.0, 30.0, 60.0, 100.0, 150.0, 300.0, 600.0, 1000.0)),
    amps=RangeInput(_AMPS, (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)),  # the 30 A element (760902), direct input
    rates=_rates("10MS 50MS 100MS 200MS 500MS 1S 2S 5S"),
    accuracy=Accuracy(0.0002, 0.0004, "GS WT5000-01EN: power, 45-66 Hz, ±(0.02 % rdg + 0.04 % rng)"),
    notes=("unverified against a real WT5000; element count not in *IDN?",),
)

DIALECTS: tuple[Dialect, ...] = (WT310, WT330, WT210, WT500, WT1800, WT5000)


def dialect_for(idn_model: str) -> tuple[Dialect, Variant] | None:
    """The family and variant whose `*IDN?` model field is `idn_model`, or None."""
    for dialect in DIALECTS:
        variant = dialect.variant_for(idn_model)
        if variant is not None:
            return dialect, variant
    return None


def supported_models() -> str:
    return ", ".join(d.family for d in DIALECTS)
