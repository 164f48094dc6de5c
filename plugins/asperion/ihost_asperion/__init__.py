"""ihost connector for Asperion (inBalance / inTrade)."""
