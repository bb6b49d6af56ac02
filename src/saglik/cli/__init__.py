"""The ``saglik`` command."""
