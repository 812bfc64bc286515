"""The fake package's HVPM instrument."""

from Monsoon import PACKAGE

Monsoon = PACKAGE.HVPM.Monsoon
