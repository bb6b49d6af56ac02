"""Shipped data files (fixture definitions, reference data)."""
