"""ihost connector for Lightspeed Retail (R-Series, API V3): the sandbox so far."""
