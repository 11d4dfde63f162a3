# Sphinx configuration for the blissnode documentation:
#   pip install sphinx && sphinx-build docs build/docs
project = "blissnode"
extensions = ["sphinx.ext.autodoc"]
master_doc = "index"
# The codec pages are included by wire.rst, not built on their own.
exclude_patterns = ["wire/*", "_build"]
html_theme = "alabaster"
