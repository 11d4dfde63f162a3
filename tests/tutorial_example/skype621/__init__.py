"""Support for the (example) client version 6.21.0.104: docs/adding-a-version.rst."""
