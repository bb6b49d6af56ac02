"""The HES test-fixture categories as the tests expect them (contract §4.6), written out by hand so
a test compares the shipped fixtures against the document rather than against themselves. The CLI,
service and web fixture tests used to spell the list out each."""

from __future__ import annotations

DOCUMENT_CATEGORIES = (
    "Aşı",
    "Bağışıklık",
    "PCR Test Sonucu",
    "Riskli",
    "Aşı & Bağışıklık & PCR Test Sonucu",
    "Aşı & Bağışıklık",
    "Aşı & PCR Test Sonucu",
    "Bağışıklık & PCR Test Sonucu",
)
"""The categories of the document's table, in its order."""

EXTRA_CATEGORIES = ("Süresi dolmuş", "İzin verilmemiş", "Risksiz")
"""The fixtures the service adds beyond the document's table: expired, not shared, riskless."""
