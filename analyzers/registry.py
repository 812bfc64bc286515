"""The driver registry: `--driver NAME` resolves through the `joulebench.analyzers` entry points.

Third-party packages add drivers by declaring, in their own pyproject,

    [project.entry-points."joulebench.analyzers"]
    mymeter = "mypackage.meter:MyMeterAnalyzer"

The simulated driver is also known without installation metadata (running from a source tree),
so the embedded default always resolves.
"""

from __future__ import annotations

import inspect
from importlib import metadata

from analyzers.base import Analyzer
from analyzers.errors import AnalyzerError, UnknownDriverError

ENTRY_POINT_GROUP = "joulebench.analyzers"
DEFAULT_DRIVER = "simulated"
_BUILTIN = {DEFAULT_DRIVER: "analyzers.simulated:SimulatedAnalyzer"}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found = {
        name: metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
        for name, value in _BUILTIN.items()
    }
    # Installed entry points win over the built-in fallback (they are the same for `simulated`).
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found[entry_point.name] = entry_point
    return found


def driver_names() -> list[str]:
    """Names `--driver` accepts, sorted."""
    return sorted(_entry_points())


def load_driver(name: str) -> type[Analyzer]:
    """The driver class registered as `name`.

    Raises `UnknownDriverError` (listing the known names) for an unregistered name, and
    `AnalyzerError` when the registered object cannot be imported or is not an `Analyzer` class.
    """
    entry_points = _entry_points()
    entry_point = entry_points.get(name)
    if entry_point is None:
        raise UnknownDriverError(
            name or "''",
            "no analyzer driver of this name is installed",
            f"known drivers: {', '.join(sorted(entry_points))}",
        )
    try:
        driver = entry_point.load()
    except Exception as error:  # any import-time failure of a plug-in is reported, not raised raw
        raise AnalyzerError(
            name,
            f"driver {entry_point.value} could not be loaded: {error}",
            "check the package that provides it",
        ) from error
    if not (inspect.isclass(driver) and issubclass(driver, Analyzer)):
        raise AnalyzerError(name, f"{entry_point.value} is not an Analyzer class", "fix the entry point")
    return driver


def create_analyzer(name: str, device: str = "", **options: object) -> Analyzer:
    """An instance of driver `name` for `device`, with driver-specific keyword `options`, made by
    the driver's `from_device` (or, where a driver does not define one, its constructor).

    An option the driver does not take raises `AnalyzerError` naming it, instead of a `TypeError`
    from deep inside.
    """
    driver = load_driver(name)
    # Drivers over a transport open it in `from_device`; the others (and older plug-ins) in `__init__`.
    opener = getattr(driver, "from_device", None)
    parameters = inspect.signature(opener or driver.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(option for option in options if option not in parameters)
    if unknown and not takes_any:
        accepted = sorted(
            p
            for p, spec in parameters.items()
            if p not in ("self", "device") and spec.kind is not inspect.Parameter.VAR_POSITIONAL
        )
        raise AnalyzerError(
            device or name,
            f"driver {name} has no option {', '.join(unknown)}",
            f"its options: {', '.join(accepted) or 'none'}",
        )
    analyzer: Analyzer = opener(device, **options) if opener else driver(device, **options)
    return analyzer
