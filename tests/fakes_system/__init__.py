"""Realistic stand-ins for system power sources (NVML, powercap, Redfish BMCs, ipmitool)."""
