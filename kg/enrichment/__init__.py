"""Suggested enrichment (issue 18): research areas, application areas and keywords suggested
from AIoD's taxonomies by the search's embedding model, kept as suggestions with their
provenance in a derived graph per asset, never written over what the publisher wrote; an owner
accepts (the term is written through the normal validated write path) or rejects them."""
