"""Our PTD-compatible daemon: any driver served over the PTD protocol (`power-analyzer serve`)."""
