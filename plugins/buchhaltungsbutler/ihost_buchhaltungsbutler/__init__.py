"""ihost connector for BuchhaltungsButler (API v1)."""
