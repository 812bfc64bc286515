"""An Android fuel gauge's readings as watts: units and sign, detected or given, and always stated.

The kernel's power-supply ABI says `current_now` is in µA and `voltage_now` in µV, and leaves the
sign to the driver: Pixels report discharge as negative (as `BatteryManager` documents), several
other vendors as positive, and some older gauges report mA. So the conventions are guessed from the
first reading (magnitude and `status`) unless `current_unit=` / `discharge_sign=` say them, and the
guess is written down with the reason, so a result never hides what was assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzers.errors import AnalyzerError

MICRO = 1e-6
MILLI = 1e-3
UA_THRESHOLD = 10_000
"""|current_now| at or above this is µA: as mA it would be over 10 A, beyond any phone's battery;
below it, as µA it would be under 10 mA, less than an awake phone with adb connected draws."""
UV_THRESHOLD = 100_000
"""voltage_now at or above this is µV (a 3.0–4.5 V cell reads 3,000,000–4,500,000); below, mV."""
DISCHARGING = "Discharging"


@dataclass(frozen=True)
class Conventions:
    """How this gauge's numbers read: a factor to amperes and volts, and the sign of discharge."""

    amps_per_unit: float
    volts_per_unit: float
    discharge_sign: int  # +1: discharge reads positive; -1: negative
    assumed: tuple[str, ...] = ()
    """One phrase per convention that was guessed, with why (none when all were given); ASCII, as it
    goes into PTD's Identify reply."""

    @property
    def current_unit(self) -> str:
        return "uA" if self.amps_per_unit == MICRO else "mA"

    def load_watts(self, current: float, voltage: float) -> float:
        """The power the battery delivers (positive while it discharges into the load)."""
        return current * self.amps_per_unit * self.discharge_sign * voltage * self.volts_per_unit

    def describe(self) -> str:
        sign = "positive" if self.discharge_sign > 0 else "negative"
        text = f"current in {self.current_unit}; discharge {sign}"
        return text + (f" ({'; '.join(self.assumed)})" if self.assumed else "")


def detect(
    device: str,
    current: float,
    voltage: float,
    status: str,
    current_unit: str = "auto",
    discharge_sign: str = "auto",
) -> Conventions:
    """The gauge's conventions from one reading; options other than `auto` win over the guess."""
    assumed = []
    if current_unit == "auto":
        if abs(current) >= UA_THRESHOLD or current == 0:
            amps = MICRO
            why = "the kernel ABI's unit" if current == 0 else f"|current_now| = {abs(current):g}"
            assumed.append(f"uA assumed: {why}")
        else:
            amps = MILLI
            assumed.append(f"mA assumed: |current_now| = {abs(current):g} would be under 10 mA as uA")
    elif current_unit in ("uA", "µA"):
        amps = MICRO
    elif current_unit == "mA":
        amps = MILLI
    else:
        raise AnalyzerError(device, f"current_unit must be uA, mA or auto, not {current_unit!r}")
    volts = MICRO if voltage >= UV_THRESHOLD else MILLI
    if discharge_sign == "auto":
        if status == DISCHARGING and current != 0:
            sign = 1 if current > 0 else -1
            assumed.append(f"discharge sign from status {DISCHARGING} and current_now {current:g}")
        else:
            sign = -1
            assumed.append(f"discharge negative assumed (BatteryManager's convention; status {status!r})")
    elif discharge_sign in ("positive", "+"):
        sign = 1
    elif discharge_sign in ("negative", "-"):
        sign = -1
    else:
        raise AnalyzerError(
            device, f"discharge_sign must be positive, negative or auto, not {discharge_sign!r}"
        )
    return Conventions(amps, volts, sign, tuple(assumed))


@dataclass(frozen=True)
class GaugeLine:
    """One line of the sampling loop: `J <uptime s> <current> <voltage> <charge µAh|-> <online...>;<status>`."""

    uptime_ns: int
    current: float
    voltage: float
    charge_uah: float | None
    chargers_online: tuple[bool, ...]
    status: str


class GaugeLineError(ValueError):
    pass


def parse_line(line: str, chargers: int) -> GaugeLine:
    """One loop line; GaugeLineError when a field is missing or not a number (a read that failed)."""
    head, separator, status = line.partition(";")
    fields = head.split()
    if not separator or len(fields) != 5 + chargers or fields[0] != "J":
        raise GaugeLineError(
            f"expected J, uptime, current, voltage, charge, {chargers} online flag(s) and a status"
        )
    try:
        uptime_s = float(fields[1])
        current = float(fields[2])
        voltage = float(fields[3])
        charge = None if fields[4] == "-" else float(fields[4])
        online = tuple(flag == "1" for flag in fields[5:])
    except ValueError:
        raise GaugeLineError(f"a field is not a number: {head.strip()!r}") from None
    return GaugeLine(round(uptime_s * 1e9), current, voltage, charge, online, status.strip())
