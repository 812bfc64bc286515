"""Monsoon HVPM/LVPM power monitors, through Monsoon Solutions' `monsoon` package (`joulebench[monsoon]`)."""

from analyzers.monsoon.driver import MonsoonAnalyzer

__all__ = ["MonsoonAnalyzer"]
