"""The ``blissnode`` command line (``blissnode ...`` or ``python -m blissnode ...``)."""
