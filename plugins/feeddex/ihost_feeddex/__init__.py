"""ihost connector for Feeddex (customer feedback)."""
