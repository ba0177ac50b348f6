"""The ConText lexicon used by `casenotes.text.context`, as plain data.

Clinical cues follow NegEx, pyConText and medspaCy's public English rules;
case-note cues (plans, goals, "hx of", family and household members, threats)
are added on top. Nothing here is compiled: `casenotes.text.context` builds its
matchers from these tables the first time it is used.

Each cue group is `(category, direction, max_scope, phrases)`:
- category: NEGATED; NEGATED_PHRASE (negates a noun phrase, not a clause);
  HYPOTHETICAL (conditional, future or planned); POSSIBLE (diagnostic hedging:
  matched, but mapped to no label); HISTORICAL; HISTORICAL_DATE (a weak
  historical cue that yields to a future cue); OTHER (family or another
  experiencer); THREAT (a threat: its sentence is not hypothetical); PSEUDO
  (looks like a cue but is not one; `PSEUDO:<FAMILY>` hides only that family's
  cues); TERMINATE (ends scopes; `TERMINATE:<FAMILY>` ends only that family's).
  A category's family is the part before "_" (NEGATED_PHRASE -> NEGATED).
- direction: "forward", "backward" or "both" (preceding and following cues).
- max_scope: how many tokens a cue reaches outside the target; None means to
  the end of the clause. Inside a whole-segment target only termination counts.
- phrases: matched on lower-cased spaCy tokens, so "didn't" is "did n't".
"""

from __future__ import annotations

from casenotes.text.lexicon import CLIENT_NOUNS, FIRST_PERSON, THIRD_PERSON

__all__ = [
    "CLAUSE_OPENERS",
    "CLIENT_OBJECTS",
    "CLIENT_SUBJECTS",
    "CUE_GROUPS",
    "LABEL_OF_CATEGORY",
    "MAX_SUFFIX_WORDS",
    "MAX_UNKNOWN_PREFIX_WORDS",
    "OBJECT_HER_FOLLOWERS",
    "POSSESSIVES",
    "PREPOSITIONS",
    "REPORTING_WORDS",
    "SUBJECT_FRAME_WORDS",
    "TOKEN_PATTERNS",
]

LABEL_OF_CATEGORY = {
    "NEGATED": "negated",
    "HYPOTHETICAL": "hypothetical",
    "HISTORICAL": "historical",
    "HISTORICAL_DATE": "historical",
    "NEGATED_PHRASE": "negated",
    "OTHER": "other_experiencer",
    "POSSIBLE": None,
}

_FAMILY = (
    "mother", "mom", "mum", "father", "dad", "parent", "parents", "brother",
    "sister", "sibling", "siblings", "son", "daughter", "child", "children",
    "kid", "kids", "baby", "infant", "toddler", "aunt", "uncle", "cousin",
    "niece", "nephew", "grandmother", "grandma", "grandfather", "grandpa",
    "grandparent", "grandparents", "grandchild", "grandchildren", "grandson",
    "granddaughter", "stepfather", "stepmother", "stepdad", "stepmom",
    "stepson", "stepdaughter", "husband", "wife", "spouse", "partner",
    "boyfriend", "girlfriend", "bf", "gf", "fiance", "fiancé", "fiancee",
    "ex", "ex-husband", "ex-wife", "ex-boyfriend", "ex-girlfriend",
    "ex-partner", "roommate", "roommates", "housemate", "neighbor", "neighbour", "neighbors", "friend", "friends",
    "coworker", "co-worker", "family", "relative", "relatives", "caregiver",
    "fh", "family history", "family hx", "fhx",
)

CUE_GROUPS: tuple[tuple[str, str, int | None, tuple[str, ...]], ...] = (
    # --- negated existence -------------------------------------------------
    ("NEGATED", "forward", 15, (
        "no", "not", "n't", "nt", "n’t", "never", "nor", "neither",
        "deny", "denies", "denying", "absent", "lacks", "lacked", "lacking",
        "no evidence of", "no evidence for", "no sign of", "no signs of",
        "no history of", "no hx of", "no complaints of", "no findings of",
        "no new", "no further", "no abnormal", "no suspicious", "no significant",
        "no other", "none of", "not have", "not had", "to exclude",
        "unremarkable for", "fails to reveal", "failed to reveal",
        "inconsistent with", "not known to have", "no known",
        "declined", "declines", "decline", "declining", "refused", "refuses",
        "refuse", "refusing", "clear of", "ruled out", "rules out",
        "no longer", "nothing", "no one", "zero",
    )),
    # Phrase-level: negate the noun phrase after them, not a clause, so inside
    # a whole-segment target they count only at its start ("attended without incident").
    ("NEGATED_PHRASE", "forward", 12, (
        "without", "with no", "negative for", "neg for", "-ve for", "free of",
        "absence of", "lack of", "rather than", "clear of",
    )),
    ("NEGATED", "both", 15, ("denied", ": none", ": no", "- none")),
    ("NEGATED", "backward", 6, (
        "was negative", "were negative", "is negative",
        "are negative", "came back negative", "has been negative", "not seen",
        "not present", "not found", "not noted", "not evident", "are not evident",
        "now resolved", "resolved", "is resolved", "has resolved", "unlikely",
        "free", "has been ruled out", "have been ruled out", "was ruled out",
        "is ruled out", "none", "non diagnostic",
    )),
    # --- conditional, future and planned ----------------------------------
    ("HYPOTHETICAL", "forward", None, (
        "if", "unless", "in case", "in the event", "should he", "should she",
        "should they", "should cl", "should the patient", "should there",
        "return for", "return if", "watch for", "monitor for",
    )),
    ("HYPOTHETICAL", "forward", 6, (
        "will", "'ll", "’ll", "wo", "shall", "going to", "gonna", "plans to",
        "plan to", "planning to", "plan is to", "plan is for", "plan :",
        "plans :", "plan for", "goal is to", "goal :", "goals :", "goal of",
        "goal to", "next steps :", "p :", "would like", "'d like", "would benefit",
        "would need", "would be", "wants to", "want to", "wishes to",
        "hopes to", "hope to", "hoping to", "intends to", "intend to",
        "intending to", "aims to", "considering", "is considering",
        "thinking about", "thinking of", "interested in", "needs to",
        "need to", "has to", "have to", "must", "should", "encouraged to",
        "advised to", "instructed to", "to follow up", "will follow up",
        "scheduled to", "is scheduled for", "next week", "next month",
        "tomorrow", "upcoming", "as needed", "prn", "might", "could",
        "may", "risk of", "risks of", "at risk for", "at risk of", "potential",
        "potentially",
    )),
    # --- diagnostic hedging (tracked, not a label) ------------------------
    ("POSSIBLE", "forward", 6, (
        "possible", "possibly", "probable", "probably", "likely", "suspect",
        "suspected", "suspicious for", "concern for", "concerning for",
        "question of", "questionable", "r/o", "rule out", "worrisome for",
        "suggestive of", "consistent with", "versus", "vs", "whether",
        "unclear if", "not sure if", "unsure if",
    )),
    # --- historical --------------------------------------------------------
    ("HISTORICAL", "forward", None, (
        "history", "hx", "h/o", "past medical history", "past history", "pmh",
        "medical history", "social history", "surgical history",
        "psychiatric history", "psh", "allergies :", "previously", "prior to",
        "family history", "family hx", "fh", "fhx",
        "status post", "s/p", "used to", "back in",
    )),
    # Modify the noun right after them ("previous hospital", "prior surgery").
    ("HISTORICAL", "forward", 4, ("previous", "prior", "former", "formerly", "old")),
    ("HISTORICAL", "both", 8, (
        "in the past", "years ago", "year ago", "months ago", "last year",
        "when she was younger", "when he was younger", "when she was young",
        "when he was young", "when she was a child", "when he was a child",
        "as a child", "as a kid", "as a teen", "as a teenager", "as a youth",
        "as a minor", "as a juvenile", "growing up", "in high school",
    )),
    # --- family and other experiencers ------------------------------------
    ("OTHER", "forward", 8, _FAMILY),
    # --- pseudo-cues: contain a cue word but are not cues -----------------
    ("PSEUDO", "forward", None, (
        "no increase", "no change", "no changes", "no significant change",
        "no interval change", "no definite change", "no suspicious change",
        "no significant interval change", "not significant change",
        "not only", "not just", "not necessarily", "not certain if",
        "not certain whether", "not sure if", "not sure whether",
        "gram negative", "without difficulty", "not extend", "not cause",
        "not drain", "not ruled out", "not been ruled out", "not rule out",
        "did not rule out", "no doubt", "whether or not", "no show",
        "no-show", "no shows", "no call", "no-call", "no-showed", "no showed",
        "no-shows", "no-showing", "denied for", "denied by", "denied as", "denied due",
        "application denied", "claim denied", "request denied", "appeal denied", "was denied",
        "were denied", "been denied", "got denied", "is denied", "are denied",
        "was declined", "were declined", "been declined", "got declined",
        "history of present illness", "history and physical",
        "history and examination", "history taking", "poor history",
        "history was obtained", "history obtained", "as well as",
        "may represent", "may suggest", "may reflect", "may indicate",
        "may be related", "may be due", "may be secondary", "may be causing",
        "may be consistent", "there may be", "may also", "free text",
        "not to mention", "without change", "not changed", "has not changed",
        "have not changed", "no significant interval",
    )),
    # A radiology or pathology "clinical history" is the reason for the exam.
    ("PSEUDO:HISTORICAL", "forward", None, (
        "clinical history", "patient history", "history :", "year - old",
        "years - old", "year old", "years old", "month - old", "months - old",
        "week - old", "day - old", "how old", "old enough",
    )),
    # Past ability or a fact, not a hypothetical.
    ("PSEUDO:HYPOTHETICAL", "forward", None, (
        "could not", "could n't", "could no longer", "could never",
        "would not", "would n't",
    )),
    # --- termination -------------------------------------------------------
    ("TERMINATE", "both", None, (
        "but", "however", "although", "though", "which", "aside from",
        "except", "apart from", "other than", ";", "nevertheless", "yet",
        "still", "whereas", "otherwise", "secondary to", "due to",
        "as the cause of", "cause of", "cause for", "source of", "reason for",
        "etiology of", "origin of", "trigger event for",
    )),
    ("TERMINATE:HISTORICAL", "both", None, (
        "presents", "presented", "presenting", "presentation", "comes in",
        "came in", "coming in", "now", "currently", "current", "today",
        "presently", "at this time", "this week", "this month", "recently",
        "recent", "since then", "who",
    )),
    ("TERMINATE:HYPOTHETICAL", "both", None, ("because", "since", "as of")),
    ("TERMINATE:NEGATED", "both", None, ("positive", "positive for", "present")),
    ("TERMINATE:OTHER", "both", None, (
        "personal", "cl", "client", "clt", "pt", "patient", "the patient",
    )),
)

# Token patterns for cues that a phrase list cannot express.
_HARM = [
    "kill", "hurt", "harm", "shoot", "stab", "beat", "hit", "choke",
    "strangle", "attack", "murder", "burn", "punch", "slap", "smack", "end",
]
_MONTHS = [
    "jan", "january", "feb", "february", "mar", "march", "apr", "april", "may",
    "jun", "june", "jul", "july", "aug", "august", "sep", "sept", "september",
    "oct", "october", "nov", "november", "dec", "december",
]
TOKEN_PATTERNS: dict[str, tuple[str, str, int | None, list[list[dict]]]] = {
    # "was homeless in 2019": a past date; yields to a future cue.
    "past_year": ("HISTORICAL_DATE", "both", 10, [
        [{"LOWER": {"IN": ["in", "during", "from"]}},
         {"LOWER": {"IN": _MONTHS}, "OP": "?"},
         {"TEXT": {"REGEX": r"^(19|20)\d\d$"}}],
    ]),
    # "UDS negative.", "SI/HI: neg." - "negative" before a noun is an adjective.
    "negative_result": ("NEGATED", "backward", 6, [
        [{"LOWER": {"IN": ["negative", "neg", "-ve"]}}, {"IS_PUNCT": True}],
    ]),
    # "... and she ...": a conjunction before a new subject starts a new clause.
    "new_clause": ("TERMINATE", "both", None, [
        [{"LOWER": {"IN": ["and", "or", "as", "so", "because", "but"]}},
         {"LOWER": {"IN": ["he", "she", "they", "i", "we", "cl", "client", "pt"]}}],
    ]),
    # "Call (also) for any ...", "call back if ...": instructions for what may happen.
    "call_for": ("HYPOTHETICAL", "forward", None, [
        [{"LOWER": {"IN": ["call", "notify", "contact"]}},
         {"LOWER": {"IN": ["also", "back", "immediately", "us", "cm", "911"]}, "OP": "?"},
         {"LOWER": {"IN": ["for", "if", "with", "should"]}}],
    ]),
    # "a two-day history of fever": the duration of the present illness.
    "short_history": ("PSEUDO:HISTORICAL", "forward", None, [
        [{"LOWER": {"IN": ["hour", "hours", "day", "days", "week", "weeks"]}},
         {"LOWER": "history"}],
    ]),
    # "PLAN:", "HISTORY OF PRESENT ILLNESS:", "FINDINGS:" - a header ends scopes.
    "header": ("TERMINATE", "both", None, [
        [{"IS_UPPER": True, "IS_ALPHA": True, "LENGTH": {">=": 2}, "OP": "+"},
         {"ORTH": ":"}],
    ]),
    # "1) ... 2) ..." list items end scopes.
    "list_item": ("TERMINATE", "both", None, [
        [{"IS_DIGIT": True}, {"ORTH": ")"}],
    ]),
    # A threat by the client is a present threat, not a hypothetical.
    "threat": ("THREAT", "both", None, [
        [{"LOWER": {"IN": ["will", "'ll", "’ll", "would", "gonna", "wo"]}},
         {"LOWER": {"IN": ["just", "go", "n't", "not"]}, "OP": "?"},
         {"LOWER": {"IN": _HARM}}],
        [{"LOWER": {"IN": ["going", "want", "wants"]}}, {"LOWER": "to"},
         {"LOWER": {"IN": _HARM}}],
        [{"LOWER": {"IN": ["threatened", "threatens", "threatening"]}},
         {"LOWER": "to"}],
        # "put him through the wall", "mess her up"
        [{"LOWER": {"IN": ["put", "throw", "mess", "beat", "knock"]}},
         {"LOWER": {"IN": ["him", "her", "them", "you"]}},
         {"LOWER": {"IN": ["through", "up", "out", "down"]}}],
    ]),
}

# Words that open a subordinate clause: a cue after one of them inside a
# whole-segment target governs that clause only.
CLAUSE_OPENERS = frozenset({
    "if", "unless", "when", "whenever", "because", "since", "although",
    "though", "while", "until", "before", "after", "once", "whether",
})
REPORTING_WORDS = frozenset({
    "reports", "reported", "reporting", "states", "stated", "stating", "says",
    "said", "shares", "shared", "disclosed", "discloses", "indicated",
    "indicates", "mentioned", "mentions", "told", "tells", "explained",
    "explains", "expressed", "expresses", "noted", "notes", "confirmed",
    "confirms", "verbalized", "verbalizes", "acknowledged", "informed",
    "that", "per", ":",
})
CLIENT_SUBJECTS = CLIENT_NOUNS | THIRD_PERSON | FIRST_PERSON | {"consumer", "participant"}
# Inside a whole-segment target, a cue may follow a short noun subject ("The
# application was not", "Rent was not") and its scope may stop short of a tail.
MAX_UNKNOWN_PREFIX_WORDS = 2
MAX_SUFFIX_WORDS = 3
# Words that may stand before a cue inside a whole-segment target as its
# subject frame ("Cl has not", "Today she did not", "The goal is to").
SUBJECT_FRAME_WORDS = frozenset({
    "the", "a", "an", "her", "his", "their", "my", "our", "'s", "’s", "cm",
    "case", "manager", "worker", "family", "also", "still", "reportedly",
    "currently", "again", "just", "now", "ever", "really", "even", "so", "far",
    "today", "this", "week", "month", "visit", "at", "is", "was", "are",
    "were", "am", "has", "have", "had", "did", "does", "do", "be", "been",
    "being", "will", "would", "can", "could", "should", "'m", "'re", "'ve",
    "'d", "’m", "’re", "’ve", "’d", "ca", "wo",
})
CLIENT_OBJECTS = CLIENT_NOUNS | {"him", "me"}
# After "her", these words show it is an object ("threatened her with ...").
OBJECT_HER_FOLLOWERS = frozenset({
    "with", "to", "at", "in", "on", "into", "out", "off", "up", "down", "from",
    "for", "about", "over", "after", "before", "during", "by", "around",
    "again", "and", "or", "but", "because", "that", "when", "while", "if",
    "so", "multiple", "several", "twice", "yesterday", "today", "last", "the",
    "a", "an", "this", "repeatedly", "verbally", "physically",
})
PREPOSITIONS = frozenset({
    "with", "by", "to", "from", "for", "at", "about", "of", "alongside",
    "near", "toward", "towards", "visit", "visited", "see", "saw",
})
# Words between a preposition and a family word ("lives with her mother").
POSSESSIVES = frozenset({"her", "his", "their", "my", "the", "a", "'s", "’s", "cl", "client"})
