"""The outward face for harvesters: DCAT-AP catalogue pages, OAI-PMH and its metadata
formats, public records, VoID, sitemap and dumps.
"""
