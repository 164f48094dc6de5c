"""Shopify connector for ihost: the Admin GraphQL API, and a sandbox that emulates it."""
