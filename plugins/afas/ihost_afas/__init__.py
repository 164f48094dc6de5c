"""AFAS Profit connector for ihost: REST GetConnectors and UpdateConnectors, and a sandbox."""
