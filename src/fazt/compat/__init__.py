"""Moving data from other programs into a fazt database (fazt v0.9's `data.db`)."""
