"""The content-addressed cache: prompt embeddings, latents and clips, each kept once under its key."""

from wanflow.cache.admin import check_cache_links
from wanflow.cache.store import CODE_VERSION, KIND_PATTERN, ArtifactStore, CorruptEntry, default_cache_dir

__all__ = ["CODE_VERSION", "check_cache_links", "KIND_PATTERN", "ArtifactStore", "CorruptEntry", "default_cache_dir"]
