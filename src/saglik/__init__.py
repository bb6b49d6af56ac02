"""saglik: the Ministry of Health G2G web services.

HES code query and ÖBS death notification query, wire-compatible with the published documents.
"""

__version__ = "0.1.0"
