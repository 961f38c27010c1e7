"""Image-conditioned requests: images checked and fetched before mining, embedded once by
content hash, and the per-item steps (image-text, detector rounds, online verifier) that
re-rank an item's negatives with them. See docs/images.md and docs/verification.md."""

from __future__ import annotations

from hardneg.service.images.rule import ImageRule
from hardneg.service.images.source import ImageSource, InvalidImage, LoadedImage, parse_ref
from hardneg.service.images.steps import ImageLoader, ImageTextStep, StepStores, image_steps

__all__ = [
    "ImageLoader",
    "ImageRule",
    "ImageSource",
    "ImageTextStep",
    "InvalidImage",
    "LoadedImage",
    "StepStores",
    "image_steps",
    "parse_ref",
]
