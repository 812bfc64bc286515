"""Energy of named windows from power traces (`Measurement`), the `power-measure` folder and its check."""
