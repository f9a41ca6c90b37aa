"""Links across platforms (issue 18): strong identifiers, resolution of the typed links that
records state (``kg.model.fields.LINKS``), same-work groups and proposed duplicates."""
