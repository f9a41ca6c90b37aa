"""Assets in and out of formats: HTTP media types, RDF parsing of caller input, fast RDF
writers, the representations of an asset, Croissant, schema.org and offline conversions.
"""
