"""The operator API under ``/admin/api``: bearer tokens, JSON in and out, every change written to
the change log by the services it calls (contract §1, "the operator side that feeds the data").

It shares nothing with the G2G gateway but the services: its own credentials, its own problem
vocabulary (422/404/409), its own OpenAPI document (``openapi/admin.yaml``)."""
