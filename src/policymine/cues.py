"""Transparent cues: what a passage's words say about practices, instruments and status.

Regular expressions in English and German, each a reason a reader can check: an actor next to
an action verb, an action item's imperative, a named instrument ("ordinance", "Zuschuss"), a
status word ("beschlossen", "will"), and the structure of a measure sheet or a numbered
action. They are the keyword baseline of `policymine eval practices`, the explanation of a
record's fields, and features of the learned classifiers (classify.py), which weigh them
together with the passage's embedding.
"""

from __future__ import annotations

import re

# The eight instrument types, with English and German cues. Order breaks ties.
INSTRUMENTS: dict[str, str] = {
    "regulation": r"ordinance|by-?laws?|regulations?\b|regulat(e|es|ing)\b|mandat(e|ory|es)|requir(e|es|ed|ing|ement)s?\b|prohibit|\bbans?\b"
    r"|zoning|building code|\bcodes?\b|standards?\b|\blaws?\b|pflicht|satzung|verordnung|gesetz|vorschrift|festsetzung|bebauungsplan|verbot|vorgaben?",
    "funding_incentive": r"subsid|grants?\b|rebates?|incentives?|tax credit|voucher|\bloans?\b|\bfund(s|ed|ing)?\b|financ|förder|zuschu|prämie|finanzier",
    "programme_service": r"program|pilot|service|scheme|initiative|projekt|angebot|car ?shar|bike ?shar|shuttle|hotline|carsharing",
    "infrastructure_investment": r"install|\bbuil[dt]|construct|retrofit|infrastructure|invest|renovat|upgrad|charging|stations?\b|plant(ed|ing)? \w* ?trees"
    r"|network|\bbau|saniert|sanierung|ausbau|errichte|netz|anlagen?\b|investi|umbau|neubau",
    "partnership": r"partner|collaborat|cooperat|coalition|alliance|agreements? with|memorand|kooperation|zusammenarbeit|bündnis|netzwerk|vereinbarung",
    "participation_process": r"participat|consultation|residents? (vote|decide)|public (meeting|hearing|comment)|engagement|advisory (panel|board|committee)"
    r"|assembl|\bjury|beteiligung|bürgerrat|bürgerhaushalt|bürgerforum|mitwirk|dialog",
    "information_education": r"campaign|awareness|educat|outreach|inform(ation|ing)? |training|workshop|advice|advis(e|ing|ory service)|brochure|website"
    r"|exhibition|kampagne|öffentlichkeitsarbeit|beratung|broschüre|informations|schulung|bildung|veranstaltung|flyer|vortr",
    "target_plan": r"targets?\b|goals?\b|strateg|\bplan\b|roadmap|inventor|monitor|net[- ]zero|climate[- ]neutral|baseline|ziel|konzept|klimaneutral"
    r"|bilanz|leitbild",
}
# Matched against lower-cased text: about twice as fast as IGNORECASE over these alternations.
_INSTRUMENT_RES = {name: re.compile(rx.lower()) for name, rx in INSTRUMENTS.items()}
# A cue of a specific instrument (an ordinance, a jury) says more than one of a broad one (a
# plan, a project, building): weights set by hand on the dev split.
_INSTRUMENT_WEIGHT = {
    "regulation": 1.6,
    "participation_process": 1.6,
    "information_education": 1.4,
    "partnership": 1.3,
    "funding_incentive": 1.2,
    "programme_service": 0.8,
    "infrastructure_investment": 0.8,
    "target_plan": 0.7,
}

STATUSES: dict[str, str] = {
    "adopted": r"\b(adopted|approved|passed|enacted|ratified|in force|took effect|signed|beschlossen|verabschiedet|in kraft)\b",
    "implemented": r"\b(launched|introduced|installed|built|completed|opened|established|created|started|began|funded|has been|have been"
    r"|was (set up|rolled out)|since (19|20)\d\d|in operation|eingeführt|umgesetzt|gestartet|eingerichtet|durchgeführt|realisiert"
    r"|eröffnet|errichtet|fortlaufend|wurden?|seit (19|20)\d\d)\b",
    "planned": r"\b(will|plans? to|planned|propos(e|ed|es)|intends?|aims? to|shall|to be|by (19|20)\d\d|develop|establish|soll(en)?|geplant"
    r"|vorgesehen|künftig|zukünftig|mittelfristig|langfristig|kurzfristig|wird .{0,60} werden)\b",
}
_STATUS_RES = {name: re.compile(rx, re.IGNORECASE) for name, rx in STATUSES.items()}

_ACTOR = (
    r"(the )?(city|council|county|municipality|metro|mayor|department|administration|government|agency|authority|utility|we|our"
    r"|stadt|gemeinde|kommune|landeshauptstadt|verwaltung|stadtwerke|rat|bezirk|wir|region)"
)
_VERB = (
    r"(will|shall|has|have|had|is|are|was|were|would)?\s*(now\s+)?(launch|introduc|adopt|establish|creat|implement|install|pilot|began|begin|start"
    r"|set up|pass|fund|buil[dt]|requir|offer|provid|expand|retrofit|convert|support|develop|partner|work|invest|plant|subsidi|promot|encourag"
    r"|coordinat|conduct|update|prohibit|ban|run|operat|organi[sz]|host|hold|held|financ|award|grant|train|publish|commit|prepar|replac|upgrad)"
)
_GERMAN_ACTION = (
    r"(eingeführt|beschlossen|gestartet|umgesetzt|eingerichtet|gefördert|gebaut|saniert|eröffnet|eingesetzt|erarbeitet|durchgeführt"
    r"|erstellt|angeboten|unterstützt|realisiert|ausgebaut|errichtet|fördert|unterstützt|bietet|richtet|plant|baut|saniert|setzt|startet)"
)
_IMPERATIVE = (
    r"(develop|establish|create|implement|provide|support|expand|install|promote|encourage|coordinate|require|adopt|update|conduct"
    r"|partner|work with|continue|explore|investigate|identify|increase|reduce|ensure|launch|offer|pursue|prepare|review|amend|build|fund"
    r"|incentivi[sz]e|plant|replace|upgrade|retrofit|consider|evaluate|undertake|engage|educate|integrate|prioriti[sz]e|advocate|seek)"
)
CUES: dict[str, re.Pattern] = {
    "actor_action": re.compile(rf"\b{_ACTOR}\b[^.;:]{{0,60}}?\b{_VERB}\w*", re.IGNORECASE),
    "named_actor_action": re.compile(
        r"\b[A-ZÄÖÜ][\w-]+\b[^.;:]{0,30}?\b(launched|introduced|adopted|established|funds|funded|installed"
        r"|built|created|requires|required|offers|provides|runs|opened|fördert|bietet|hat|haben)\b"
    ),
    "german_action": re.compile(rf"\b{_GERMAN_ACTION}\b", re.IGNORECASE),
    "imperative": re.compile(
        rf"(^|\n|[•▪\-–]\s*|\b\d+(\.\d+)*\.?\s+|\b[A-Z][\w-]*-\d+(\.\d+)?:\s*)\s*{_IMPERATIVE}\b"
    ),
    "action_item": re.compile(
        r"\b(action|measure|maßnahme|strategy|policy|massnahme)\s*[A-Z]*[- ]?\d+(\.\d+)*\b|^\s*\d+(\.\d+){1,}\s",
        re.IGNORECASE | re.MULTILINE,
    ),
    "future": re.compile(r"\b(will|shall|soll(en)?|wird|werden)\b", re.IGNORECASE),
    "past_action": re.compile(
        r"\b(launched|introduced|adopted|established|installed|built|completed|opened|created|started|began|piloted|eingeführt|gestartet|umgesetzt|eingerichtet|durchgeführt)\b",
        re.IGNORECASE,
    ),
    "quantity": re.compile(
        r"\d[\d.,]*\s?(%|percent|per cent|prozent|households|homes|units|tonnes|tons|t\s?co2|kwh|mwh|mw|kw|km|residents|buildings|trees|euro|€|\$|dollars|wohnungen)",
        re.IGNORECASE,
    ),
    "statistic": re.compile(
        r"\b(accounts? for|accounted|compared (to|with)|per capita|increased by|decreased by|rose|fell|is expected|are expected|estimated|projected|liegt bei|lag bei|betr[äa]gt|betrug|anteil|prognose|stieg|sank)\b",
        re.IGNORECASE,
    ),
    "hedge": re.compile(
        r"\b(we assume|assum|could|might|may|should|would|consider|recommend|können|könnte|sollte|empfehl|in general|generally|typically|often)\b",
        re.IGNORECASE,
    ),
    "reference": re.compile(
        r"(et al\.|\(\d{4}\)|\bdirective\b|\bsee (also )?(section|chapter|table|figure)|https?://|www\.|\bvgl\.|\bquelle\b|\babbildung\b|\bfigure \d|\btable \d)",
        re.IGNORECASE,
    ),
    "definition": re.compile(
        r"\b(is defined as|refers to|means|definition|bezeichnet|versteht man|ist definiert)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(r"\d"),
}


def features(text: str, section: str | None = None) -> dict[str, float]:
    """The cue features of a passage: counts squashed to 0..1, and length-normalised densities."""
    words = max(len(text.split()), 1)
    feats = {
        name: 1.0 - 0.5 ** len(rx.findall(text)) for name, rx in CUES.items() if name != "number"
    }
    feats["instrument"] = min(1.0, sum(map(len, instrument_matches(text).values())) / 3)
    feats["number_density"] = min(1.0, 10 * len(CUES["number"].findall(text)) / words)
    feats["short"] = 1.0 if words < 30 else 0.0
    feats["section_action"] = (
        1.0
        if section
        and re.search(
            r"\b(action|measure|maßnahme|programm|program|initiative|projekt)",
            section,
            re.IGNORECASE,
        )
        else 0.0
    )
    return feats


def instrument_matches(text: str) -> dict[str, list[re.Match]]:
    lower = text.lower()
    return {name: list(rx.finditer(lower)) for name, rx in _INSTRUMENT_RES.items()}


def instrument_of(text: str) -> tuple[str | None, str | None]:
    """(instrument type, the matched words) by the most (weighted) cue matches; (None, None) when nothing matches."""
    best, weight, evidence = None, 0.0, None
    for name, found in instrument_matches(text).items():
        if found and len(found) * _INSTRUMENT_WEIGHT[name] > weight:
            best, weight, evidence = name, len(found) * _INSTRUMENT_WEIGHT[name], found[0]
    if evidence is None:
        return None, None
    source = (
        text if len(text) == len(text.lower()) else text.lower()
    )  # offsets hold unless lower() changed the length
    return best, word_at(source, evidence.start(), evidence.end())


def status_of(text: str) -> tuple[str | None, str | None]:
    """(planned | adopted | implemented, the status words) as the text states it; adopted wins over the rest."""
    for name in ("adopted", "implemented", "planned"):
        m = _STATUS_RES[name].search(text)
        if m:
            return name, m.group(0)
    return None, None


def word_at(text: str, start: int, end: int) -> str:
    """The whole word(s) around a match: "förder" in "Förderprogramm" gives "Förderprogramm"."""
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "-"):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "-"):
        end += 1
    return text[start:end].strip()


# Structure of a passage: a numbered action item, a list item, a measure sheet's fields.
STRUCTURE: dict[str, re.Pattern] = {
    "numbered_item": re.compile(
        r"(^|\s)((action|measure|maßnahme|massnahme|policy|strategy|objective|goal|ziel)\s*[A-Z]{0,3}[- .]?\d+(\.\d+)*"
        r"|[A-Z]{1,4}[- ]\d+(\.\d+)?:)",
        re.IGNORECASE,
    ),
    "list_item": re.compile(r"(^|\n)\s*([•▪●◦\-–*]|\d+[.)]|[a-z][.)])\s+\w"),
    "sheet_field": re.compile(
        r"\b(maßnahmentitel|handlungsfeld|zielgruppe|verantwortlich|akteure|laufzeit|zeitraum|kosten|priorität"
        r"|responsible (party|department)|lead (agency|department)|timeline|time ?frame|cost estimate|funding source"
        r"|performance (measure|indicator)|co-?benefits)\b\s*:?",
        re.IGNORECASE,
    ),
}
# What kind of document a passage comes from, by its file name and title: a draft plan's
# measures are planned, a code's rules adopted, a report's measures under way.
DOCUMENT_STAGES: dict[str, re.Pattern] = {
    "doc_draft": re.compile(
        r"draft|entwurf|propos|recommend|konzept|strategy|strategie|plan\b|plan[-_ ]|action|aktionsprogramm",
        re.IGNORECASE,
    ),
    "doc_code": re.compile(
        r"ordinance|code|satzung|verordnung|zoning|rules|regulation|gesetz", re.IGNORECASE
    ),
    "doc_report": re.compile(
        r"report|bericht|inventory|minutes|progress|sachstand|tätigkeit|taetigkeit|bilanz",
        re.IGNORECASE,
    ),
}


# What the start of a passage says (a measure's heading often runs into its text): a code
# ("1.2.3", "M 4", "Action E-3", "BS1"), a heading word, a verb of doing in the first sentence.
OPENING: dict[str, re.Pattern] = {
    "opening_code": re.compile(
        r"^\W{0,3}((action|measure|maßnahme|massnahme|policy|strategy|programm?e?|projekt|project|ziel|objective|goal)"
        r"\s*[A-Za-z]{0,6}[- .]?\d+(\.\d+)*|\d+(\.\d+)+\b|[A-Z]{1,4}[- ]?\d+(\.\d+)?\b)",
        re.IGNORECASE,
    ),
    "opening_heading_word": re.compile(
        r"\b(maßnahmen?|massnahmen?|action|policy|policies|programm?e?|strategy|strategie|projekt|project|initiative)\b",
        re.IGNORECASE,
    ),
    "opening_doing": re.compile(
        rf"(^|[:•▪\-–]\s*)\s*{_IMPERATIVE}\b|{_GERMAN_ACTION}|\b{_VERB}"
        r"|\b(erstellen|einführen|umsetzen|ausbauen|fördern|errichten|sanieren|entwickeln|durchführen"
        r"|einrichten|aufbauen|anbieten|erarbeiten|schaffen|prüfen|erweitern|verbessern|unterstützen)\b",
        re.IGNORECASE,
    ),
}
# A measure sheet's or an action table's fields, counted: many of them make a sheet.
SHEET_FIELDS = re.compile(
    r"\b(zielgruppen?|kosten|laufzeit|zeitraum|dauer|verantwortlich\w*|zuständig\w*|federführ\w*|akteure|beteiligte|partner"
    r"|priorität|umsetzung(szeitraum)?|finanzierung|beschreibung|handlungsfeld|indikatoren?|meilensteine?|status"
    r"|responsible|lead|partners?|timeline|time ?frame|timing|cost|costs|funding|budget|priority|indicators?|metrics?"
    r"|milestones?|target group|description|implementation|status)\s*:",
    re.IGNORECASE,
)
AMOUNTS: dict[str, re.Pattern] = {
    "money": re.compile(
        r"(\$|€|£|\beur\b|\busd\b)\s?\d|\d[\d.,]*\s?(mio\.?|millionen|million|mrd\.?|billion|tsd\.?|k)?\s?(€|euro|eur\b|dollars?|usd\b)",
        re.IGNORECASE,
    ),
    "percent": re.compile(r"\d\s?(%|percent|per cent|prozent)", re.IGNORECASE),
    "tonnes": re.compile(
        r"\d[\d.,]*\s?(t|tonnen|tonnes|tons|kt|mt)\b\s?(co|/a|pro|per|of)?", re.IGNORECASE
    ),
    "target_year": re.compile(
        r"\b(by|until|bis|ab|from|starting|spätestens)\s+(20[2-5]\d)\b", re.IGNORECASE
    ),
    "past_year": re.compile(
        r"\b(in|since|seit|im jahre?|am \d\d?\.\d\d?\.)\s*((19|20)[0-2]\d)\b", re.IGNORECASE
    ),
}
# Words that name an instrument's mechanism more specifically than the instrument cues: an
# obligation (must, muss, Satzung), a payment to others, the city's own building work.
MECHANISMS: dict[str, re.Pattern] = {
    "obligation": re.compile(
        r"\b(must|shall( not)? be|is required|are required|is prohibited|are prohibited|permit(s|ted)?|muss|müssen|sind .{0,40}(herzustellen|zu errichten|zulässig|unzulässig)|ist .{0,40}zulässig|unzulässig|verpflichte\w*)\b",
        re.IGNORECASE,
    ),
    "payment": re.compile(
        r"\b(förderprogramm\w*|fördermittel|zuschüsse?|zuschuss|förderung|gefördert|grants?|subsid\w+|rebates?|loans?|darlehen|prämien?|bonus|tax (credit|abatement|break)s?)\b",
        re.IGNORECASE,
    ),
    "own_assets": re.compile(
        r"\b(municipal (buildings?|fleet|facilities)|city[- ]owned|städtische\w* (gebäude|liegenschaft\w*|flotte)|public buildings|street ?light\w*|straßenbeleuchtung|bike lanes?|radweg\w*|kilomet\w+|km)\b",
        re.IGNORECASE,
    ),
    "people_reached": re.compile(
        r"\b(residents|citizens|households|bürger\w*|einwohner\w*|haushalte|unternehmen|businesses|schools?|schulen|eigentümer\w*|owners|tenants|mieter\w*)\b",
        re.IGNORECASE,
    ),
    "first_person": re.compile(r"\b(we|our|wir|unser\w*)\b", re.IGNORECASE),
    "ongoing": re.compile(
        r"\b(ongoing|underway|in progress|continues?|continuing|laufend|fortlaufend|weiterhin|in umsetzung|in bearbeitung|bereits|already)\b",
        re.IGNORECASE,
    ),
}


def _opening(text: str) -> tuple[str, str]:
    """The passage's first 120 characters and its first sentence."""
    head = text.lstrip()[:120]
    return head, re.split(r"(?<=[.!?])\s", text.lstrip(), maxsplit=1)[0][:300]


def structure_features(text: str, document: str = "") -> dict[str, float]:
    """Structure cues of a passage and the stage its document is at (0..1 each): a numbered
    item, a list item, a measure sheet's fields, what its opening says, figures of money,
    percent, tonnes and years, the mechanism its words name."""
    feats = {name: float(bool(rx.search(text))) for name, rx in STRUCTURE.items()}
    feats.update({name: float(bool(rx.search(document))) for name, rx in DOCUMENT_STAGES.items()})
    head, first = _opening(text)
    feats["opening_code"] = float(bool(OPENING["opening_code"].search(head)))
    feats["opening_heading_word"] = float(bool(OPENING["opening_heading_word"].search(head)))
    feats["opening_doing"] = float(bool(OPENING["opening_doing"].search(first)))
    feats["sheet_fields"] = 1.0 - 0.5 ** len(SHEET_FIELDS.findall(text))
    for name, rx in {**AMOUNTS, **MECHANISMS}.items():
        feats[name] = 1.0 - 0.5 ** len(rx.findall(text))
    feats["length"] = min(1.0, len(text.split()) / 250)
    return feats


def passage_features(text: str, document: str, term_counts: list[int]) -> dict[str, float]:
    """Every named (non-embedding) feature of a passage for the learned classifiers: the
    practice cues, each instrument's and status's cue count, structure and document stage,
    and the taxonomy's term evidence per topic (`term_counts`, in taxonomy order)."""
    feats = features(text)
    for name, found in instrument_matches(text).items():
        feats[f"instrument_{name}"] = 1.0 - 0.5 ** len(found)
    for name, rx in _STATUS_RES.items():
        feats[f"status_{name}"] = 1.0 - 0.5 ** len(rx.findall(text))
    feats.update(structure_features(text, document))
    for i, n in enumerate(term_counts):
        feats[f"term_{i}"] = 1.0 - 0.5**n
    return feats
