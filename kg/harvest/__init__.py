"""The harvest engine: the connector contract, outbound HTTP, harvest state and reports,
and the loop that runs one connector against the catalog.
"""
