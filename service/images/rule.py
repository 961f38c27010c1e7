"""The image-text rule: where a negative's image-text score puts it, relative to its positive's.

For an item's image, CLIP scores every phrase by cosine(image, text). A negative scoring like the
positive itself may be in the picture: demoted, and dropped when it beats the positive by more
than the drop margin. One scoring just below the positive is what the image makes hard: ranked
first. One far below keeps its text rank. Margins are cosine differences; CLIP's logit scale is
100, so 0.01 is one logit (a factor e in CLIP's own odds). docs/images.md has the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ImageVerdict = Literal["drop", "may_be_present", "hard", "neutral"]
TIER: dict[str, int] = {"hard": 0, "neutral": 1, "may_be_present": 2}


@dataclass(frozen=True)
class ImageRule:
    present_margin: float = 0.01
    drop_margin: float = 0.03
    hard_margin: float = 0.05

    @classmethod
    def from_settings(cls, s: Any) -> ImageRule:
        return cls(s.image_present_margin, s.image_drop_margin, s.image_hard_margin)

    def verdict(self, positive: float, negative: float) -> ImageVerdict:
        """The verdict for a negative scoring ``negative`` where its positive scores ``positive``."""
        gap = positive - negative
        if gap <= -self.drop_margin:
            return "drop"
        if gap < self.present_margin:
            return "may_be_present"
        if gap < self.hard_margin:
            return "hard"
        return "neutral"
