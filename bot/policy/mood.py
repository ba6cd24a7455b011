"""The customer's mood over their last comments, as a figure an agent can check against its inputs.

Scored with VADER (`vaderSentiment`), a maintained rule-based model made for short informal text that ships
its lexicon inside the package: nothing is downloaded or trained at run time, and the same text always
gets the same score. The score never leaves the desk's internal notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

EXCERPT = 80


@dataclass(frozen=True)
class Scored:
    excerpt: str
    compound: float
    """VADER's normalized score, -1 (most negative) to 1 (most positive)."""


@dataclass(frozen=True)
class Mood:
    inputs: tuple[Scored, ...]
    """The comments scored, oldest first."""

    @property
    def score(self) -> float | None:
        """The latest comment's score: how the customer feels now (None without comments)."""
        return self.inputs[-1].compound if self.inputs else None

    @property
    def change(self) -> float:
        """Latest minus earliest score: negative when the mood fell."""
        return self.inputs[-1].compound - self.inputs[0].compound if len(self.inputs) > 1 else 0.0

    def falling(self, drop: float) -> bool:
        return self.change <= -drop

    def label(self) -> str:
        score = self.score
        if score is None:
            return "unknown (no comment from the customer)"
        word = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
        return f"{word} ({score:+.2f}, change {self.change:+.2f})"


def mood(texts: Sequence[str]) -> Mood:
    """The mood of `texts` (a customer's comments, oldest first)."""
    analyzer = _analyzer()
    return Mood(tuple(Scored(_excerpt(t), round(analyzer.polarity_scores(t)["compound"], 3)) for t in texts))


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    """Reading the lexicon files is the costly part: once per process."""
    return SentimentIntensityAnalyzer()
