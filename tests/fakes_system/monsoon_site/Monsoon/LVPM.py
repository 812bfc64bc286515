"""The fake package's LVPM instrument."""

from Monsoon import PACKAGE

Monsoon = PACKAGE.LVPM.Monsoon
