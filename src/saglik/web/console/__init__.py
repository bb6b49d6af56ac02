"""The operator console under ``/console``: server-rendered pages over the operator services.

It adds no rule of its own. Every page reads a form, calls a service of ``OperatorServices`` as
the signed-in operator, and renders what the service answered or refused (README "Console")."""
