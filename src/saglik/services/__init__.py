"""Application layer: one function per service operation. Takes a store and a clock, returns domain
results or raises domain errors; knows nothing of HTTP."""
