"""Pure rules of the two services. Nothing here does I/O or imports the rest of the project."""
