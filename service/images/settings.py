"""Settings of image-conditioned requests (``HARDNEG_IMAGE_*``): where images may come from, the
limits on them, and the image-text rule's margins (docs/images.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hardneg.miners.settings import SettingsSection


class ImageSettings(SettingsSection):
    """Images on request items: sources, limits, the image tower and the image-text rule."""

    image_tower: bool = Field(
        True,
        description="Keep open_clip's image tower loaded (ViT-B-32: ~350 MB per worker) so items"
        " with an image are ranked by image-text score; false = the image step reports disabled.",
    )
    image_url_hosts: list[str] = Field(
        [],
        description="Hosts (JSON list, exact names or `*.example.org`) that image URLs may point"
        " to; empty = URL images are refused (off by default: the service would fetch for callers).",
    )
    image_root: Path | None = Field(
        None,
        description="Folder that path images must lie under (symlinks resolved); unset = path"
        " images are refused.",
    )
    image_max_bytes: int = Field(
        10_000_000, ge=1, description="Largest image accepted (URL, path or base64), in bytes."
    )
    image_max_pixels: int = Field(
        50_000_000, ge=1, description="Largest image accepted in pixels (width x height)."
    )
    image_timeout_s: float = Field(
        5.0, gt=0, description="Time to fetch one image URL, connection to last byte, in seconds."
    )
    image_cache_ttl_s: int = Field(
        30 * 24 * 3600, ge=1, description="TTL of cached image embeddings (by content hash)."
    )
    image_present_margin: float = Field(
        0.01,
        ge=0,
        description="A negative whose image-text score is within this of the positive's (cosine)"
        " scores like the positive: it may be present, so it is demoted.",
    )
    image_drop_margin: float = Field(
        0.03,
        ge=0,
        description="A negative scoring this much above the positive (cosine) is dropped: the"
        " image matches it better than what is known to be there.",
    )
    image_hard_margin: float = Field(
        0.05,
        ge=0,
        description="A negative scoring below the positive by at least the present margin and"
        " less than this is hard (ranked first); farther below it keeps its text rank.",
    )
