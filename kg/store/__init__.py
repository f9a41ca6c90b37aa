"""Where the graphs live: the embedded Oxigraph store, a remote SPARQL 1.1 engine, the
public/non-public partition, the catalogue index (SQLite), backend selection and backups.
"""
