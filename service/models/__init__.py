"""Models of the service app, one module per area (each helper area imports here)."""
