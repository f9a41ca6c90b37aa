"""The AIoD data model as RDF: the field table, JSON <-> RDF mapping, the JSON-LD context,
SHACL shapes and docs generated from it, and validation of records against the shapes.
"""
