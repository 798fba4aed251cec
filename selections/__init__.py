"""Declarative e+e- event selections (YAML, checked against ``schema.json``).

Read them with :func:`t2khnl.select.load`; see README.md in this folder.
"""
