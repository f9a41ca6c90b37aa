"""The web UI: server-rendered pages (Jinja templates) with a little JavaScript, no CDN.

``/`` search with suggestions, facets and paging; asset pages are the asset IRIs' HTML
landing pages (``api.linked_data`` renders them with ``api.ui.asset_page``); ``/share``
uploads a file, shows its validation report field by field and saves it as a draft; the
SPARQL editor is ``/sparql`` (``api.routes.sparql_editor``); ``api.ui.account`` has the
signed-in flows (``/signin`` by OIDC redirect or key, ``/my/assets``, ``/my/bookmarks``,
``/review-queue``) and ``api.ui.markdown`` renders descriptions as safe Markdown.
"""

from api.ui.routes import install_ui

__all__ = ["install_ui"]
