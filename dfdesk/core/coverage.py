"""Manipulation families and what an ensemble is known to detect (its coverage), in words that do not overclaim.

A video that the detectors do not flag has only been shown not to carry the manipulations they were validated on;
it is never called real or authentic.  The coverage says which families the fitted ensemble was validated on, how
many of their fakes it detected at the operating point, and which families nobody measured.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FACE_SWAP, REENACTMENT, TALKING_HEAD, FULLY_SYNTHETIC = "face_swap", "reenactment", "talking_head", "fully_synthetic"
FAMILY_NAMES = {
    FACE_SWAP: "face swap",
    REENACTMENT: "face reenactment",
    TALKING_HEAD: "talking-head synthesis",
    FULLY_SYNTHETIC: "fully synthetic video (text-to-video)",
}
NO_MANIPULATION_DETECTED = "no manipulation detected by these models"

_METHOD_FAMILIES = {  # manipulation methods named by the data sets dfdesk reads
    "deepfakes": FACE_SWAP, "faceswap": FACE_SWAP, "faceshifter": FACE_SWAP, "df-vae": FACE_SWAP,
    "neuraltextures": REENACTMENT, "face2face": REENACTMENT,
}


def family_of(method: str) -> str | None:
    """The family of a manipulation method as a data set names it ("Deepfakes", "DF-VAE face swap",
    "talking-head synthesis from one photo"); None when the words name no known family."""
    words = method.strip().lower()
    for name, family in _METHOD_FAMILIES.items():
        if name in words.replace(" ", ""):
            return family
    if "swap" in words:
        return FACE_SWAP
    if "reenact" in words:
        return REENACTMENT
    if "talking-head" in words or "talking head" in words:
        return TALKING_HEAD
    return None


@dataclass(frozen=True)
class FamilyCoverage:
    """How the ensemble did on one family's validation fakes, out of sample, at the verdict's operating point."""

    family: str
    fakes: int  # validation fakes of this family
    detected: int  # of which the verdict said "fake"

    @property
    def name(self) -> str:
        return FAMILY_NAMES.get(self.family, self.family.replace("_", " "))

    @property
    def rate(self) -> float:
        return self.detected / self.fakes if self.fakes else 0.0

    def sentence(self) -> str:
        return f"{self.name}: {self.detected} of {self.fakes} validation fakes detected ({self.rate:.0%})"


@dataclass(frozen=True)
class Coverage:
    """The families an ensemble was validated on (with detection rates) and the families it was not."""

    validated: tuple[FamilyCoverage, ...]
    real_clips: int  # validation videos without manipulation
    real_called_fake: int  # of which the verdict said "fake"

    @property
    def not_validated(self) -> tuple[str, ...]:
        seen = {f.family for f in self.validated}
        return tuple(FAMILY_NAMES[f] for f in FAMILY_NAMES if f not in seen)

    def statement(self) -> str:
        """One paragraph: what a "no manipulation detected" result does and does not cover."""
        rates = "; ".join(f.sentence() for f in self.validated) or "none"
        unknown = ", ".join(self.not_validated) or "none listed"
        return (f"Validated out of sample on: {rates}. Videos without manipulation: {self.real_called_fake} of "
                f"{self.real_clips} wrongly called fake. Not known to be detected: {unknown}, and any manipulation "
                "method not named here.")

    def to_dict(self) -> dict:
        return {"validated": [{"family": f.family, "name": f.name, "fakes": f.fakes, "detected": f.detected,
                               "detection_rate": round(f.rate, 4)} for f in self.validated],
                "real_clips": self.real_clips, "real_called_fake": self.real_called_fake,
                "not_validated": list(self.not_validated), "statement": self.statement()}

    @classmethod
    def from_dict(cls, data: Mapping) -> Coverage:
        families = tuple(FamilyCoverage(str(f["family"]), int(f["fakes"]), int(f["detected"]))
                         for f in data.get("validated", ()))
        return cls(families, int(data.get("real_clips", 0)), int(data.get("real_called_fake", 0)))


def measure_coverage(families: Sequence[str | None], labels: Sequence[int], verdicts: Sequence[str]) -> Coverage:
    """Coverage from out-of-sample verdicts: one family (None for real or unknown), label (1 fake) and verdict
    per validation video.  Fakes of no known family are counted under "other manipulation"."""
    counts: dict[str, list[int]] = {}
    real = wrong = 0
    for family, label, verdict in zip(families, labels, verdicts):
        if not label:
            real += 1
            wrong += verdict == "fake"
            continue
        tally = counts.setdefault(family or "other manipulation", [0, 0])
        tally[0] += 1
        tally[1] += verdict == "fake"
    order = [f for f in FAMILY_NAMES if f in counts] + sorted(set(counts) - set(FAMILY_NAMES))
    return Coverage(tuple(FamilyCoverage(f, *counts[f]) for f in order), real, wrong)
