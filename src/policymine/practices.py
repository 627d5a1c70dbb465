"""Practice detection: does a passage describe a concrete measure a city took, and of what kind?

A first, transparent heuristic: a practice passage names an instrument (a subsidy, a rule,
a programme...), an action verb (launched, adopted, eingeführt...) and ideally a result or
scale (figures, percentages, households). English and German cues.
"""

from __future__ import annotations

import re

from .types import Hit, Practice

INSTRUMENTS: dict[str, str] = {
    "subsidy": r"subsid|grant|rebate|incentive|tax credit|voucher|loan|förder|zuschuss|prämie",
    "regulation": r"ordinance|mandate|requirement|obligat|regulation|bylaw|zoning|code\b|law\b|pflicht|satzung|verordnung|gesetz|vorschrift",
    "programme": r"program|initiative|pilot|campaign|scheme|service|programm|projekt|kampagne|modellvorhaben",
    "participation": r"participatory|assembl|workshop|residents vot|public meeting|beteiligung|bürgerrat|bürgerhaushalt",
    "investment": r"invest|fund\b|funds|funding|budget|bond\b|million|billion|mio\.|millionen|haushalt",
    "planning": r"strategy|master ?plan|action plan|roadmap|target|konzept|strategie|leitbild|ziel",
}
_INSTRUMENT_RES = {name: re.compile(rx, re.IGNORECASE) for name, rx in INSTRUMENTS.items()}
_ACTION_RE = re.compile(
    r"\b(launch|introduc|adopt|establish|creat|implement|install|pilot|began|begin|start|set up|pass|fund|built|build|"
    r"requir|offer|provid|expand|retrofit|convert|eingeführt|beschlossen|gestartet|umgesetzt|eingerichtet|gefördert|"
    r"gebaut|saniert|eröffnet|eingesetzt)\w*",
    re.IGNORECASE,
)
_RESULT_RE = re.compile(
    r"\d[\d.,]*\s?(%|percent|per cent|prozent|households|homes|units|tonnes|tons|t co2|kwh|mwh|mw|kw|km|miles|"
    r"residents|projects|buildings|trees|jobs|euro|€|\$|dollars)|\b(reduc|sav|increas|cut|avoid|senk|gesenkt|eingespart)\w*",
    re.IGNORECASE,
)
MIN_PRACTICE_SCORE = 0.5


def assess(hit: Hit) -> Practice:
    """Score how clearly a passage describes a concrete practice and name its instrument."""
    text = hit.text
    counts = {name: len(rx.findall(text)) for name, rx in _INSTRUMENT_RES.items()}
    instrument = max(counts, key=counts.get) if any(counts.values()) else None
    score = (
        0.35 * min(1.0, len(_ACTION_RE.findall(text)) / 2)
        + 0.35 * (1.0 if instrument else 0.0)
        + 0.30 * min(1.0, len(_RESULT_RE.findall(text)) / 2)
    )
    return Practice(hit=hit, score=round(score, 3), instrument=instrument)


def practices(hits: list[Hit], min_score: float = MIN_PRACTICE_SCORE) -> list[Practice]:
    """The hits that describe practices, as Practice records, in the order given."""
    return [p for p in map(assess, hits) if p.score >= min_score]
