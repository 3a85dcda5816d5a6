"""Search over a saved index (dense, optionally reranked by a cross-encoder) and the HTTP server."""
from __future__ import annotations

from embedtune.serving.index import INDEX_KINDS, IndexFolderError, IndexInfo, SearchIndex, build_index
from embedtune.serving.search import Hit, Searcher, load_cross_encoder, open_searcher, search_index

__all__ = ["INDEX_KINDS", "Hit", "IndexFolderError", "IndexInfo", "SearchIndex", "Searcher", "build_index",
           "load_cross_encoder", "open_searcher", "search_index"]
