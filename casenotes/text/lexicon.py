"""The words of case-note writing that more than one stage needs: one home for them.

Shorthand with a period or slash is kept whole by the segmenter's tokenizer; titles
never end a sentence, the other period forms end one only before a capital. The
expansions spell shorthand out for the embedding model. The subject words say who a
clause is about: the client, someone else referred to by a pronoun, or staff.
"""

from __future__ import annotations

__all__ = [
    "CAPITALS_ONLY",
    "CLIENT_NOUNS",
    "EXPANSIONS",
    "FIRST_PERSON",
    "PERIOD_SHORTHAND",
    "SLASHED_SHORTHAND",
    "STAFF_NOUN",
    "THIRD_PERSON",
    "TITLES",
]

TITLES = ("Dr.", "Mr.", "Mrs.", "Ms.", "St.", "Ave.", "No.", "approx.", "Approx.", "vs.", "e.g.", "i.e.")
PERIOD_SHORTHAND = (
    "cl.", "Cl.", "appt.", "Appt.", "appts.", "apt.", "wk.", "wks.", "mo.", "mos.",
    "yr.", "yrs.", "hr.", "hrs.", "min.", "mins.", "pt.", "Pt.", "info.", "dept.",
    "etc.", "tel.", "ph.", "cont.", "Cont.", "req.", "med.", "meds.", "mgmt.", "asst.", "govt.", "est.", "avg.",
    "misc.", "co.", "Co.", "Inc.", "Jr.", "Sr.",
)
SLASHED_SHORTHAND = (
    "w/", "W/", "w/o", "W/o", "f/u", "F/u", "F/U", "b/c", "B/c", "s/p", "h/o", "c/o",
    "y/o", "yo/", "SI/HI", "HI/SI", "si/hi", "d/c", "D/C", "n/a", "N/A", "r/o", "R/O",
    "a/w", "p/u", "P/U", "s/w", "S/W", "w/in", "w/e",
)

# Shorthand spelled out before text is embedded (keys lower case).
EXPANSIONS = {
    "cl": "client", "clt": "client", "pt": "client", "cm": "case manager",
    "appt": "appointment", "appts": "appointments", "apt": "apartment",
    "f/u": "follow up", "w/": "with", "w/o": "without", "b/c": "because",
    "si/hi": "suicidal or homicidal ideation", "si": "suicidal ideation",
    "hi": "homicidal ideation", "dv": "domestic violence", "ipv": "intimate partner violence",
    "po": "probation officer", "ed": "emergency department", "er": "emergency room",
    "ua": "urine drug screen", "uas": "urine drug screens", "mat": "medication for addiction treatment",
    "iop": "intensive outpatient program", "od": "overdose", "od'd": "overdosed",
    "snap": "SNAP food stamps", "ebt": "EBT food benefits", "tanf": "TANF cash assistance",
    "ssi": "SSI disability income", "ssdi": "SSDI disability income",
    "hcv": "housing choice voucher", "pha": "public housing authority",
    "ged": "GED high school equivalency", "cps": "child protective services",
    "aps": "adult protective services", "ihss": "in-home supportive services",
    "hx": "history", "h/o": "history of", "dx": "diagnosis", "rx": "prescription",
    "meds": "medications", "vm": "voicemail", "txt": "text", "tx": "treatment",
    "wk": "week", "wks": "weeks", "mo": "month", "mos": "months", "yr": "year", "yrs": "years",
    "hrs": "hours", "bf": "boyfriend", "gf": "girlfriend", "ncns": "no call no show",
    "sx": "symptoms", "psych": "psychiatric", "x2": "twice", "x3": "three times",
    "psh": "permanent supportive housing", "rrh": "rapid re-housing", "ce": "coordinated entry",
    "liheap": "LIHEAP energy bill assistance", "ccap": "CCAP childcare assistance",
    "ui": "unemployment insurance", "chip": "CHIP children's health insurance",
    "fqhc": "community health clinic", "pcp": "primary care doctor", "aa": "Alcoholics Anonymous",
    "na": "Narcotics Anonymous", "cdl": "commercial driver's license", "dmv": "DMV driver's license office",
    "ssa": "Social Security office", "dcfs": "child protective services",
    "1br": "one-bedroom apartment", "2br": "two-bedroom apartment", "dss": "social services office",
}
# Short forms that are also ordinary words ("hi", "Ed", "mo") count only in capitals.
CAPITALS_ONLY = {"si", "hi", "po", "ed", "er", "od", "mo", "ce", "na", "ui", "aa", "chip"}

# Who a clause is about.
CLIENT_NOUNS = frozenset({"cl", "client", "clt", "pt", "patient"})
THIRD_PERSON = frozenset({"she", "he", "they"})
FIRST_PERSON = frozenset({"i", "we"})
STAFF_NOUN = "cm"
