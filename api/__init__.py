"""aiod-kg interfaces: the FastAPI application and the ``aiod-kg`` command line."""
