"""saglik: the Ministry of Health G2G web services (HES code query, ÖBS death notification query)."""

__version__ = "0.1.0"
