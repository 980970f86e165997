"""The rule layer of crisis detection: a lexicon and regular expressions that need no model.

It is OR-ed with the model layer and must keep working when no model, registry or cache is up, so
it imports only the standard library and compiles every pattern once, at import. Recall comes
first (``../shared/spec/crisis-policy.md``): when in doubt a rule flags, and the guards that stop a
rule (idioms, informational questions, resolved history) are narrow and apply to the clause of the
match only, so present danger elsewhere in the same message still flags.

How a message is checked: it is normalised (``normalise_for_rules``) and cut into sentences; the
words of each sentence select the rules anchored on them (every rule names words, at least one of
which each of its matches contains), and only those rules run on that sentence. Every pattern
uses bounded gaps and no nested unbounded quantifier, so the work grows linearly with the text,
and every sentence of a long post is still checked.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

from careassist.taxonomy import CRISIS_KINDS

__all__ = ["RuleHit", "detect_rules", "normalise_for_rules", "rule_names"]


@dataclass(frozen=True)
class RuleHit:
    """A crisis found by a rule: the crisis kind and the rule's name, never the user's text."""

    kind: str
    rule: str


# --- Normalisation ---------------------------------------------------------------------------------

#: (characters, replacement), applied only to text that has a character outside printable ASCII.
_CHAR_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("[\u2018\u2019\u201a\u201b\u2032\u00b4`]"), "'"),
    (re.compile("[\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]"), '"'),
    (re.compile("[\u2013\u2014\u2015\u2212]"), " - "),
    # Zero-width characters and soft hyphens are dropped so that they cannot split a word in two.
    (re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]"), ""),
    # Control characters become spaces; line breaks stay because they end a sentence.
    (re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]"), " "),
)

# The rare character first, so the scan can skip ahead to it.
_LEET_HINT = re.compile(r"[0-9@$!](?:(?<=[a-z].)|(?=[a-z]))")
_LEET_HEAD = re.compile(r"[a-z0-9@$!]{0,40}$")
_LEET_TAIL = re.compile(r"[a-z0-9@$!]{0,40}")
_LEET_TABLE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
# Numbers with a unit or an ordinal ("10mg", "2nd", "b12") and shouting ("help!!") are not leetspeak.
_NOT_LEET = re.compile(r"\d+[a-z]{0,4}|[a-z]{1,3}\d{1,3}|[a-z]+!+")
_SPECIAL_CHARS = re.compile(r"[^\n -~]")
_REPEATED_HINT = re.compile(r"(?=([a-z])\1\1)")
_REPEATED_LETTERS = re.compile(r"([a-z])\1{2,}")
_WORD = re.compile(r"[a-z][a-z0-9'*]*")

#: Common misspellings -> the word the rules expect. Slang (kms, kys, unalive) is kept as it is.
MISSPELLINGS: dict[str, str] = {
    **dict.fromkeys(
        ("sucide", "suiside", "suicde", "sucicide", "suiscide", "suacide", "suecide", "suicied", "suiced", "suicid",
         "suiciide", "suicidee", "s*icide", "su*cide", "suic*de", "suicyde", "sucidie", "suicdie"),
        "suicide",
    ),
    **dict.fromkeys(("sucidal", "suicdal", "suicidel", "suisidal", "suicidial", "sucicidal", "suicidle"), "suicidal"),
    **dict.fromkeys(("kil", "kll", "klil", "kiil", "k*ll", "kilk"), "kill"),
    **dict.fromkeys(("kiling", "killin", "kilin", "killng"), "killing"),
    **dict.fromkeys(("myslef", "mysef", "myslf", "mysefl", "mself", "myelf", "mysel"), "myself"),
    **dict.fromkeys(("dyin", "dieing"), "dying"),
    **dict.fromkeys(("wnat", "wamt", "whant", "wnt"), "want"),
    **dict.fromkeys(("wanan", "wana", "wanne", "wann", "wannna"), "wanna"),
    **dict.fromkeys(("wuold", "woud", "wold", "woudl"), "would"),
    **dict.fromkeys(("anymroe", "nemore", "anymor"), "anymore"),
    **dict.fromkeys(("tonigt", "tonite", "tonihgt", "2nite", "2night", "tonght"), "tonight"),
    **dict.fromkeys(("livng", "livin"), "living"),
    **dict.fromkeys(("reasn", "reson", "reasom"), "reason"),
    **dict.fromkeys(("notise", "notive"), "notice"),
    **dict.fromkeys(("hopeing", "hopin"), "hoping"),
    **dict.fromkeys(("morinng", "mornign", "mornin"), "morning"),
    **dict.fromkeys(("evry",), "every"),
    **dict.fromkeys(("cutt",), "cut"),
    **dict.fromkeys(("thinkabout",), "think about"),
    **dict.fromkeys(("goodby", "goodbey", "gudbye"), "goodbye"),
    **dict.fromkeys(("freind", "frend"), "friend"),
    **dict.fromkeys(("ambian", "ambein"), "ambien"),
    **dict.fromkeys(("worht", "wroth", "wort"), "worth"),
    **dict.fromkeys(("peacfully", "peacefuly", "peacefull"), "peacefully"),
    **dict.fromkeys(("overdoes", "overdoze", "ovedose", "overdos", "overdoce", "overdosse"), "overdose"),
    **dict.fromkeys(("overdoesd", "overdosd", "overdossed", "overdoesed", "overdozed", "ovedosed"), "overdosed"),
    **dict.fromkeys(("overdoesing", "overdozing"), "overdosing"),
    **dict.fromkeys(("pils", "pillz", "pilss"), "pills"),
    **dict.fromkeys(("swalowed", "swallowd", "swolled", "swalloed"), "swallowed"),
    **dict.fromkeys(("enuff", "enogh", "enought", "enuf"), "enough"),
    **dict.fromkeys(("countng", "countin"), "counting"),
    **dict.fromkeys(("accidently", "accidentaly"), "accidentally"),
    **dict.fromkeys(("todler", "toddlr"), "toddler"),
    **dict.fromkeys(("dishwaher",), "dishwasher"),
    **dict.fromkeys(("ibuprofin", "ibprofen", "ibuprophen"), "ibuprofen"),
    **dict.fromkeys(("tylenal", "tylonol"), "tylenol"),
    **dict.fromkeys(("sleping",), "sleeping"),
    **dict.fromkeys(("cuting", "cuttin"), "cutting"),
    **dict.fromkeys(("scrach", "scrath"), "scratch"),
    **dict.fromkeys(("agian", "agin", "agen"), "again"),
    **dict.fromkeys(("stabed",), "stabbed"),
    **dict.fromkeys(("hurtin",), "hurting"),
    **dict.fromkeys(("burnin",), "burning"),
    **dict.fromkeys(("bangin",), "banging"),
    **dict.fromkeys(("hittin",), "hitting"),
    **dict.fromkeys(("nieghbor", "neighbour", "nieghbour"), "neighbor"),
    **dict.fromkeys(("loded",), "loaded"),
    **dict.fromkeys(("jsut",), "just"),
    **dict.fromkeys(("somone", "sombody"), "someone"),
    **dict.fromkeys(("brethe", "breate", "breth", "breahte"), "breathe"),
    **dict.fromkeys(("breating", "brething", "breathin"), "breathing"),
    **dict.fromkeys(("chocking", "choaking", "chokin", "choakin"), "choking"),
    **dict.fromkeys(("gaspin",), "gasping"),
    **dict.fromkeys(("unconcious", "unconsious", "unconcsious", "unconscous", "unconsicous"), "unconscious"),
    **dict.fromkeys(("unresponsve", "unresposive", "unresponsiv"), "unresponsive"),
    **dict.fromkeys(("bleding", "bleedin"), "bleeding"),
    **dict.fromkeys(("blod",), "blood"),
    **dict.fromkeys(("throwin",), "throwing"),
    **dict.fromkeys(("sudenly", "suddently", "suddnly", "sudently"), "suddenly"),
    **dict.fromkeys(("sence",), "sense"),
    **dict.fromkeys(("rite",), "right"),
    **dict.fromkeys(("slured", "slurrd"), "slurred"),
    **dict.fromkeys(("respondin", "responing"), "responding"),
    **dict.fromkeys(("wakin",), "waking"),
    **dict.fromkeys(("seisure", "seizur", "siezure"), "seizure"),
    **dict.fromkeys(("alot",), "a lot"),
}
_MISSPELLING_KEYS = frozenset(MISSPELLINGS)
# The word comes first so that the scan can jump to it; the look-behind then checks its start.
_MISSPELLING_PATTERNS = {
    word: re.compile(rf"{re.escape(word)}(?<![a-z0-9'*]{re.escape(word)})(?![a-z0-9'*])") for word in MISSPELLINGS
}

# Two-word forms -> one ("my self", "over dose", "cant breath" for the verb, "took to many"). Each is
# looked for as plain text first; the pattern puts the phrase first so the scan can jump to it.
_BREATH_NEGATIONS = (
    "can't", "cant", "cannot", "can not", "couldn't", "couldnt", "could not", "unable to", "hard to", "trouble",
    "struggling to", "barely", "didn't", "didnt", "don't", "dont", "not", "stopped", "stop",
)
_PHRASES: tuple[tuple[str, str], ...] = (
    *((f"{who} self", f"{who}self") for who in ("my", "him", "her", "them")),
    *((f"over {dose}", f"over{dose}") for dose in ("dose", "dosed", "doses", "dosing")),
    *((f"{negation} breath", f"{negation} breathe") for negation in _BREATH_NEGATIONS),
    *((f"{verb} to {amount}", f"{verb} too {amount}") for verb in ("took", "taken", "had", "swallowed")
      for amount in ("many", "much")),
    ("sings of", "signs of"),
    ("k m s", "kms"),
    ("k.m.s", "kms"),
    ("s/h", "sh"),
)
# "my self harm", "her self-esteem": "self" there starts a compound, it is not "myself".
_SELF_COMPOUND = r"(?!\s*-|\s+(?:harm\w*|injur\w*|esteem|care|worth|confidence|image|control|doubt|awareness|talk))"
_PHRASE_FIXES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (
        phrase,
        re.compile(
            rf"{re.escape(phrase)}(?<![a-z]{re.escape(phrase)})(?![a-z])"
            + (_SELF_COMPOUND if phrase.endswith(" self") else "")
        ),
        fixed,
    )
    for phrase, fixed in _PHRASES
)


def _deleet(text: str) -> str:
    """Digits and symbols inside words read as letters ("k1ll" -> "kill"); only words that have one."""
    pieces: list[str] = []
    done = 0
    for pair in _LEET_HINT.finditer(text):
        if pair.start() < done:
            continue
        head = _LEET_HEAD.search(text, max(done, pair.start() - 40), pair.start())
        start = head.start() if head else pair.start()
        end = _LEET_TAIL.match(text, pair.start()).end()  # type: ignore[union-attr]
        token = text[start:end]
        if not _NOT_LEET.fullmatch(token) and any(c in token for c in "0134579@$!"):
            token = token.translate(_LEET_TABLE)
        pieces += (text[done:start], token)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def normalise_for_rules(text: str) -> str:
    """The text the rules read: lower case, NFKC, straight quotes, no leetspeak or stretched letters,
    common misspellings mapped to their word; slang (kms, kys, unalive) stays recognisable."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if _SPECIAL_CHARS.search(text):
        for characters, replacement in _CHAR_FIXES:
            text = characters.sub(replacement, text)
    if _LEET_HINT.search(text):
        text = _deleet(text)
    if _REPEATED_HINT.search(text):
        text = _REPEATED_LETTERS.sub(r"\1", text)
    for word in _MISSPELLING_KEYS.intersection(_WORD.findall(text)):
        text = _MISSPELLING_PATTERNS[word].sub(MISSPELLINGS[word], text)
    for phrase, pattern, fixed in _PHRASE_FIXES:
        if phrase in text:
            text = pattern.sub(fixed, text)
    return text.strip()


# --- Vocabulary shared by the rules ----------------------------------------------------------------

#: Medicines and their containers, one word each (the anchors of the overdose and means rules).
DRUG_WORDS: tuple[str, ...] = (
    "pill", "pills", "tablet", "tablets", "tabs", "capsule", "capsules", "caps", "meds", "medication", "medications",
    "medicine", "medicines", "drugs", "dose", "doses", "dosage", "prescription", "prescriptions", "painkiller",
    "painkillers", "bottle", "patch", "patches", "insulin", "warfarin", "coumadin", "tylenol", "acetaminophen",
    "paracetamol", "ibuprofen", "advil", "motrin", "aspirin", "aleve", "naproxen", "oxy", "oxys", "oxycodone",
    "oxycontin", "percocet", "vicodin", "hydrocodone", "morphine", "fentanyl", "tramadol", "codeine", "methadone",
    "heroin", "opioid", "opioids", "opiates", "benzo", "benzos", "xanax", "valium", "klonopin", "ativan", "lorazepam",
    "diazepam", "alprazolam", "clonazepam", "seroquel", "quetiapine", "lithium", "amitriptyline", "nortriptyline",
    "sertraline", "zoloft", "prozac", "fluoxetine", "lexapro", "citalopram", "trazodone", "ambien", "zolpidem",
    "zopiclone", "melatonin", "benadryl", "diphenhydramine", "nyquil", "gabapentin", "lyrica", "pregabalin",
    "metoprolol", "propranolol", "digoxin", "clonidine", "lisinopril", "amlodipine", "eliquis", "apixaban",
    "xarelto", "metformin", "glipizide", "lantus", "humalog", "novolog", "sleepers", "gummies", "edibles",
    "adderall", "antidepressant", "antidepressants", "antipsychotics", "sedative", "sedatives", "barbiturates",
    "duloxetine", "cymbalta", "wellbutrin", "bupropion", "effexor", "venlafaxine", "mirtazapine", "remeron",
    "olanzapine", "risperidone", "haloperidol", "prednisone", "syrup",
)
#: Household poisons a child or a confused adult may swallow.
POISON_WORDS: tuple[str, ...] = (
    "bleach", "antifreeze", "cleaner", "cleaners", "detergent", "pods", "dishwasher", "drain", "weedkiller", "poison",
    "pesticide", "insecticide", "gasoline", "petrol", "thinner", "chemicals", "battery", "batteries", "mouthwash",
    "sanitizer", "ammonia", "lye", "nicotine", "liquid", "fluid",
)
ALCOHOL_WORDS: tuple[str, ...] = (
    "alcohol", "vodka", "wine", "beer", "beers", "whiskey", "whisky", "booze", "liquor", "rum", "gin", "tequila",
    "drinks", "drunk", "bourbon", "scotch", "brandy",
)
RELATIVE_WORDS: tuple[str, ...] = (
    "mom", "mum", "mother", "mommy", "mummy", "dad", "father", "daddy", "husband", "wife", "son", "daughter", "brother",
    "sister", "grandma", "grandpa", "grandmother", "grandfather", "granddad", "grandad", "grandson", "granddaughter",
    "aunt", "uncle", "niece", "nephew", "friend", "partner", "boyfriend", "girlfriend", "neighbor", "roommate", "child",
    "kid", "kids", "children", "teen", "teenager", "baby", "toddler", "patient", "client", "resident", "stepdad",
    "stepmom", "stepfather", "stepmother", "cousin", "spouse", "fiance", "fiancee", "gran", "granny", "nan", "nana",
    "parent", "parents", "family", "boss", "coworker", "co-worker", "teacher", "landlord", "ex",
)
GUN_WORDS: tuple[str, ...] = (
    "gun", "guns", "pistol", "pistols", "rifle", "rifles", "shotgun", "handgun", "revolver", "glock", "firearm",
    "firearms",
)


def _words(words: tuple[str, ...] | list[str]) -> str:
    """One pattern for a word list, as a trie: the engine tries a handful of letters, not every word."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return "(?:" + emit(root) + ")"


_MACROS: dict[str, str] = {
    # Gaps of up to N words; a rule sees one sentence, so a gap never crosses one.
    "W1": r"(?:[\w'/-]+\s+)?",
    "W2": r"(?:[\w'/-]+\s+){0,2}",
    "W3": r"(?:[\w'/-]+\s+){0,3}",
    "ME": r"(?:myself|meself|my\s+own\s+self)",
    "SELF3": r"(?:himself|herself|themselves|themself|hisself)",
    "NEG": r"(?:don'?t|do\s+not|doesn'?t|does\s+not|didn'?t|did\s+not|no\s+longer|not|never|cannot|can'?t|won'?t|"
    r"will\s+not|wouldn'?t)",
    "PRON3": r"(?:he|she|they|he'?s|she'?s|hes|shes|they'?re|theyre|he'?ll|she'?ll|hell|shell|he'?d|she'?d)",
    "DRUG": r"(?:sleeping\s+\w+|heart\s+pills|pain\s+pills|insulin\s+pens|" + _words(DRUG_WORDS) + ")",
    "POISON": r"(?:rat\s+poison|lighter\s+fluid|lamp\s+oil|paint\s+thinner|" + _words(POISON_WORDS) + ")",
    "ALCOHOL": _words(ALCOHOL_WORDS),
    "GUN": _words(GUN_WORDS),
    "QTY": r"(?:all|every|everything|the\s+rest|rest|most|half|whole|entire|lots?|loads?|a\s+bunch|bunch|handful|"
    r"a\s+ton|tons|way\s+too|too|double|triple|twice|several|many|\d{2,}|twenty|thirty|forty|fifty|sixty|hundred|"
    r"dozens?|like\s+\d+|about\s+\d+|over\s+\d+|more\s+than)",
    "RELATIVE": r"(?:(?:father|mother)\s+in\s+law|" + _words(RELATIVE_WORDS) + ")",
    "RECENT": r"(?:today|tonight|just|now|right\s+now|this\s+(?:morning|afternoon|evening|week)|yesterday|"
    r"last\s+night|again|still|won'?t\s+leave|(?:is|s|'s)\s+(?:home|here|back|on\s+shift|coming)|on\s+shift|"
    r"minutes?\s+ago|an?\s+hour\s+ago|earlier|happening)",
    # "She doesn't want to live alone" is about housing, not about living.
    "NOTWHERE": r"(?!\s+(?:alone|in|at|with|there|near|here|on\s+(?:my|her|his|their)\s+own|by\s+(?:my|her|him|them)sel\w+|"
    r"far|close|somewhere|anywhere|nearby|together|apart|on\s+(?:a|the|this)\s+\w+))",
}

_MACRO_REF = re.compile(r"%([A-Z0-9]+)%")


def _expand(pattern: str) -> str:
    return _MACRO_REF.sub(lambda m: _MACROS[m[1]], pattern)


# --- Rules -----------------------------------------------------------------------------------------

GUARD_HISTORY = "history"
GUARD_INFORMATIONAL = "informational"
GUARD_ACADEMIC = "academic"
_GUARD_CODES = {"h": GUARD_HISTORY, "i": GUARD_INFORMATIONAL, "a": GUARD_ACADEMIC}
_WORD_LISTS = {"@drug": DRUG_WORDS, "@poison": POISON_WORDS, "@alcohol": ALCOHOL_WORDS, "@gun": GUN_WORDS}


@dataclass(frozen=True)
class _Rule:
    name: str
    kind: str
    anchors: frozenset[str]
    stems: tuple[str, ...]
    pattern: re.Pattern[str]
    guards: frozenset[str]
    unless: re.Pattern[str] | None
    not_after: re.Pattern[str] | None
    window: bool


def _rule(
    name: str,
    kind: str,
    anchors: str,
    alternatives: tuple[str, ...],
    *,
    guards: str = "",
    unless: str | None = None,
    not_after: str | None = None,
    window: bool = False,
) -> _Rule:
    """One rule: ``anchors`` are words ("kill") or stems ("suicid*"), one of which every match contains;
    ``guards`` letters name the guards that may stop it (h history, i informational, a academic);
    ``unless`` stops a match when it is found in the match's clause (a window rule: in the window);
    ``not_after`` stops a match right after it ("don't" before "want to die");
    a ``window`` rule reads the sentence with its neighbours, for signs that span two sentences."""
    if kind not in CRISIS_KINDS:
        raise ValueError(f"crisis rule {name}: kind {kind!r} is not one of {CRISIS_KINDS}")
    words: set[str] = set()
    stems: list[str] = []
    for token in anchors.split():
        if token in _WORD_LISTS:
            words.update(_WORD_LISTS[token])
        elif token.endswith("*"):
            stems.append(token[:-1])
        else:
            words.add(token)
    return _Rule(
        name=name,
        kind=kind,
        anchors=frozenset(words),
        stems=tuple(stems),
        pattern=re.compile("|".join(f"(?:{_expand(alternative)})" for alternative in alternatives)),
        guards=frozenset(_GUARD_CODES[code] for code in guards),
        unless=re.compile(_expand(unless)) if unless else None,
        not_after=re.compile(rf"(?:{_expand(not_after)})\s*$") if not_after else None,
        window=window,
    )


_IDEATION = "ideation_explicit"
_PASSIVE = "ideation_passive"
_PLAN = "plan_or_means"
_SELF_HARM = "self_harm"
_THIRD = "third_person"
_OVERDOSE = "overdose"
_OTHERS = "harm_to_others"
_MEDICAL = "medical_emergency"

#: Idioms of wanting to die that are not about dying.
#: Where someone wishes to die in hospice planning ("my grandmother wants to die in her own bed", with
#: hospice or palliative care in the same clause, on either side): an end-of-life wish, not ideation.
_END_OF_LIFE = r"\b(?:hospice|palliative|end[\s-]of[\s-]life)\b"
_WISHED_PLACE = (
    r"\bwants?\s+to\s+die\s+(?:at\s+home|in\s+(?:her|his|their|my|your)\s+own\s+(?:bed|home|house))\b"
    r"(?![^.!?\n]*\b(?:tonight|today|now|soon|pills|myself))"
)
_PLACE_OF_DEATH = rf"{_END_OF_LIFE}[^.!?\n]*{_WISHED_PLACE}|{_WISHED_PLACE}[^.!?\n]*{_END_OF_LIFE}"
_DIE_IDIOMS = (
    r"\bdie\s+(?:of|from)\s+(?:embarrassment|shame|boredom|laugh\w*|envy|jealousy|happiness|cuteness)\b|"
    r"\b(?:die|dead)\s+(?:laughing|for\s+(?:a|some|one)\b|to\s+(?:know|see|try|get|go)\b)|\bto\s+die\s+for\b"
)

RULES: tuple[_Rule, ...] = (
    # --- Explicit ideation -------------------------------------------------------------------------
    _rule("slang_self_kill", _IDEATION, "kms kys ctb unaliv* sewerslide sewer delete deleting neck rope", (
        r"\b(?:kms|kys|ctb|unaliv\w*|sewer\s?slide)\b",
        r"\bself[- ]?delet(?:e|ing)\b",
        r"\b(?:neck|rope)\s+(?:myself|%SELF3%)\b",
    )),
    _rule("kill_self", _IDEATION, "kill* end ending ended unaliv* drown* poison* shoot* shot gas* suffocat* myself", (
        r"\b(?:kill\w*|end|ending|ended|unalive\w*|drown\w*|poison\w*|shoot\w*|shot|gas\w*|suffocat\w*)\s+%ME%",
        r"\b(?:want\w*|wanna|going|gonna|will|ll|to)\s+(?:to\s+)?off\s+%ME%",
    ), guards="h", unless=r"\b(?:laugh\w*|lol|lmao)\b"),
    _rule("should_have_died", _IDEATION, "killed ended died dead coward", (
        r"\bshould\s+(?:have|'ve)\s+(?:killed\s+myself|ended\s+(?:it|my\s+life)|died|been\s+dead)\b",
        r"\b(?:too\s+much\s+of\s+a\s+)?coward\s+to\s+(?:kill|end|do\s+it|die)\b",
    )),
    _rule("kill_me_request", _IDEATION, "kill shoot end", (
        r"\b(?:someone|somebody|god|please|pls|plz)\s+(?:please\s+|just\s+)?(?:kill|shoot|end)\s+me\b",
        r"\b(?:want|wish|need)\s+(?:someone|somebody|god|something|a\s+\w+)\s+(?:to|would|could)\s+(?:kill|shoot|end)\s+me\b",
    )),
    _rule("kill_self_other", _THIRD, "himself herself themselves themself hisself", (
        (r"\b(?:kill|kills|killing|off|offing|end|ending|unalive\w*|drown\w*|poison\w*|shoot\w*|hang|hangs|hanging|gas\w*|"
        r"suffocat\w*|overdos\w*|jump\w*|stab\w*)\s+%SELF3%"),
        # A death told in the past tense is grief, unless it just happened or is only feared.
        r"\b(?:killed|shot|hung|hanged|ended|drowned|poisoned|offed|unalived)\s+%SELF3%[^.!?\n]{0,40}\b%RECENT%\b",
        r"\b(?:if|just)\s+(?:he|she|they\s+)?(?:killed|shot|hung|hanged|ended|drowned|poisoned|offed|unalived)\s+%SELF3%",
    ), guards="hi"),
    _rule("suicidal", _IDEATION, "suicid*", (r"\bsuicidal\w*", r"\bsuicidality\b"),
          guards="hi",
          unless=r"\b(?:not|never|no|isn'?t|wasn'?t|aren'?t|nor)\s+(?:[\w']+\s+){0,2}suicidal\b(?![^.!?\n]{0,20}\b(?:yet|"
          r"anymore|any\s+more|again))|\b(?:cause|causes|caused|causing|increase|increases|risk\s+of)\b[^.!?\n]{0,40}"
          r"\bsuicidal|\bsuicidal\s+(?:thoughts|ideation)\b[^.!?\n]{0,30}\b(?:side\s+effects?|warning|label)"),
    _rule("suicide_word", _IDEATION, "suicide suicides suiciding suicided", (r"\bsuicid(?:e|es|ing|ed)\b",),
          guards="hi",
          unless=r"\b(?:social|career|political|commercial|financial|professional|academic|fashion)\s+suicide\b|"
          r"\bsuicide\s+(?:squad|doors?|mission|runs?|fuel|blonde|bomb\w*|king|lane|sprints?|prevention|hotline|"
          r"lifeline|awareness)\b|\b(?:died|dies|death|lost|loss|losing)\b[^.!?\n]{0,25}\bsuicide\b|\bsuicide\s+of\b|"
          r"\b(?:his|her|their)\s+suicide\b|\b(?:he|she|they|who)\s+(?:committed|commited)\s+suicide\b|"
          r"\bsuicide\s+(?:is|was|was/is|isn'?t|wasn'?t)\s+(?:never|not)\s+(?:an\s+)?option\b|"
          r"\b(?:cw|tw|trigger\s+warning|content\s+warning)\W{0,3}suicide\b|"
          r"\b(?:movie|film|show|series|documentary|book|novel|article|episode|song|lyrics|scene|character|podcast|"
          r"news)\b"),
    _rule("want_to_die", _IDEATION, "die dead", (
        (r"\b(?:want(?:s|ed|ing)?(?:\s+to)?|wanna|need(?:s|ed)?\s+to|planning\s+(?:to|on)|plan(?:s|ned)?\s+to|"
        r"trying\s+to|tryna|decided\s+to|intend\s+to|wish(?:ed|ing)?(?:\s+i\s+(?:could|would))?|hope|hoping|"
        r"pray(?:ing)?|deserve[sd]?|would\s+rather|'d\s+rather|rather|finna)\s+%W1%(?:to\s+)?(?:die|be\s+dead)\b"),
        r"\b(?:ready|prepared|deserve|deserves|wanting|longing)\s+to\s+die\b",
        r"\b(?:i|i'?ll|ill)\s+(?:just\s+)?die\s+(?:soon|tonight|tomorrow)\b",
        r"\bi\s+(?:will|'ll|ll)\s+(?:soon\s+)?be\s+dead\b(?!\s+(?:by\s+(?:then|the\s+time)|before))",
    ), guards="h", unless=f"{_DIE_IDIOMS}|{_PLACE_OF_DEATH}",
       not_after=r"\b(?:don'?t|do\s+not|never|didn'?t|doesn'?t|not)(?:\s+really|\s+even)?"),
    _rule("better_dead", _IDEATION, "dead die alive exist here wake live", (
        r"\b(?:better|rather|prefer\w*|happier|easier)\s+(?:off\s+)?(?:be\s+|being\s+)?dead\b",
        r"\bwish\w*\s+(?:that\s+)?(?:i|i'?d|id)\s+(?:was|were|had\s+been|could\s+be|be)\s+dead\b",
        r"\bwant\w*\s+to\s+be\s+dead\b",
        r"\b(?:i|i'?d|id)\s+rather\s+(?:be\s+dead|die|not\s+(?:be\s+alive|exist|be\s+here|live|wake))\b",
    )),
    _rule("end_my_life", _IDEATION, "life", (
        r"\b(?:end\w*|take|taking|took|taken|finish\w*)\s+my\s+(?:own\s+)?life\b",
    ), guards="h"),
    _rule("end_their_life", _THIRD, "life lives", (
        r"\b(?:end|ends|ending|take|takes|taking)\s+(?:his|her|their)\s+(?:own\s+)?li(?:fe|ves)\b",
        r"\b(?:ended|took|taken)\s+(?:his|her|their)\s+(?:own\s+)?life\b[^.!?\n]{0,40}\b%RECENT%\b",
    ), guards="hi"),
    _rule("end_it_all", _IDEATION, "end ending ended", (
        (r"\b(?:end|ending|ended)\s+(?:it\s+all|it|things|everything|my\s+suffering|the\s+pain|my\s+pain|"
        r"my\s+misery|my\s+existence)\b(?!\s+(?:with|between|off|up|for\s+(?:him|her|them)|on\s+a|there|suddenly|"
        r"early|abruptly|dramatically))"),
    ), guards="h", unless=r"\b(?:relationship|marriage|friendship|contract|lease|subscription|call|conversation|"
       r"meeting|argument|fight|debate|war|season|game|book|story|movie|series|show|chapter|job|pregnancy|treatment|"
       r"therapy|chemo|dialysis|essay|post|rant)\b", not_after=r"\b(?:the|at\s+the|in\s+the)"),
    _rule("command_voices", _IDEATION, "voice voices", (
        (r"\bvoices?\b[^.!?\n]{0,40}\b(?:says|say|tells|tell|told|telling|said|saying|command\w*|order\w*)\b"
        r"[^.!?\n]{0,80}\b(?:kill|die|let\s+go|jump|hurt|end\s+it|crash|drive\s+off|cut|harm|do\s+it)\b"),
    ), guards="h"),
    # --- Passive ideation --------------------------------------------------------------------------
    _rule("passive_not_live", _PASSIVE, "live alive exist here around go keep carry stay survive earth world", (
        (r"\b%NEG%\s+(?:really\s+|even\s+|actually\s+|just\s+)?(?:want|wanna|wish|care|feel\s+like)\s+(?:to\s+)?"
        r"(?:live|be\s+alive|exist|be\s+here|be\s+around|keep\s+going|keep\s+living|go\s+on\s+living|carry\s+on|"
        r"stay\s+alive|survive|"
        r"be\s+on\s+this\s+earth|be\s+in\s+this\s+world)\b%NOTWHERE%"),
        (r"\b%NEG%\s+(?:really\s+|even\s+|just\s+)?(?:want|wanna)\s+to\s+go\s+on\b(?!\s+(?:a|an|the|this|that|my|with|about|"
        r"holiday|vacation|trips?|dates?|medication|meds|it|them|\w+ing)\b)"),
        (r"\b(?:can'?t|cannot|can\s+not)\s+(?:live|go\s+on|go\s+on\s+living|keep\s+living|keep\s+going|exist)\s+"
        r"(?:like\s+this\s+)?"
        r"(?:anymore|any\s+longer)\b"),
        r"\b(?:can'?t|cannot|can\s+not)\s+(?:live|go\s+on|go\s+on\s+living|keep\s+living)\s+like\s+this\b",
    ), guards="h"),
    _rule("passive_tired_of_living", _PASSIVE, "living life alive existing existence here breathing", (
        (r"\b(?:tired|sick|done|finished|exhausted|weary)\s+(?:of|with)\s+(?:[\w']+\s+)?(?:living|life|being\s+alive|"
        r"existing|existence|being\s+here|this\s+life|my\s+life|breathing)\b"),
        r"\b(?:giv\w*|gave)\s+up\s+on\s+(?:life|living)\b",
    ), guards="h", unless=r"\b(?:nowhere|no\s+where)\s+near\b"),
    _rule("passive_not_exist", _PASSIVE, "alive exist existing here wake disappear vanish waiting", (
        r"\b(?:rather|prefer)\s+not\s+(?:to\s+)?(?:be\s+alive|exist|be\s+here|be\s+around|live|wake)\b",
        (r"\b(?:want|wanna|wish\s+i\s+could)\s+(?:to\s+)?(?:just\s+)?(?:disappear|vanish|not\s+exist|stop\s+existing|"
        r"cease\s+to\s+exist|not\s+be\s+here|not\s+be\s+alive|not\s+wake\s+up)\b"),
        r"\bwaiting\s+(?:to\s+die|for\s+death|for\s+the\s+end|to\s+go)\b",
        r"\b(?:disappear|vanish)\s+(?:and|&)\s+never\s+come\s+back\b",
    ), guards="h"),
    _rule("passive_join_the_dead", _PASSIVE, "join again soon there died passed late lost gone", (
        r"\b(?:want|wanna|wanted|wanting|ready)\s+to\s+(?:join|be\s+with)\s+(?:him|her|them)\s+(?:again|soon|there)\b",
        r"\bwanting\s+to\s+join\s+(?:him|her|them)\b",
        (r"\b(?:died|passed|gone|late|lost)\b[^.!?\n]{0,80}\b(?:want|wanna|wanting|ready)\s+to\s+(?:be\s+with|join|"
        r"go\s+to)\s+(?:him|her|them)\b"),
    ), guards="h"),
    _rule("passive_ready_to_go", _PASSIVE, "go ready", (
        r"\bjust\s+(?:want|wanna)\s+(?:to\s+)?go\s*(?:$|[.!,]|\bi\b|now\b|already\b|home\s+to\s+(?:god|jesus|heaven))",
        r"\bready\s+to\s+(?:go|let\s+go|leave\s+this\s+world|be\s+done)\s*(?:$|[.!,]|now\b)",
        r"\bready\s+to\s+go\s+to\s+(?:him|her|them|heaven|god|be\s+with)\b",
    ), guards="h"),
    _rule("passive_not_here_long", _PASSIVE, "longer alive here around", (
        r"\b(?:how\s+much\s+)?longer\s+i'?(?:ll|\s+will)\s+be\s+(?:alive|here|around)\b",
        r"\bwon'?t\s+be\s+(?:here|around|alive)\s+(?:much\s+)?(?:longer|for\s+long|tomorrow)\b",
        (r"\b(?:don'?t|do\s+not)\s+think\s+i'?(?:ll|\s+will)\s+be\s+(?:here|around|alive)\b(?!\s+(?:for|when|at|to|in\s+time|"
        r"on\s+time|by))"),
    ), guards="h"),
    _rule("passive_never_wake", _PASSIVE, "born woken woke wake waking mornings exist never", (
        (r"\bwish\w*\s+(?:that\s+)?(?:i|my\s+\w+)\s+(?:had\s+)?(?:never|hadn'?t|had\s+not|didn'?t|did\s+not|"
        r"would\s+not|wouldn'?t|not)\s+(?:been\s+born|woken|woke|wake|have\s+woken|existed|had\s+me|have\s+had\s+me)\b"),
        r"\bwish\w*\s+(?:my\s+\w+|they|she|he)\s+(?:had\s+)?never\s+had\s+me\b",
        (r"\bwak\w*\s+up\s+(?:every\s+\w+\s+)?(?:wishing|disappointed|upset|angry|sad)\s+(?:i|that\s+i)\s+"
        r"(?:didn'?t|did\s+not|hadn'?t|am|was\s+still|still|woke|had\s+not)\b"),
        (r"\b(?:hope|hoping|hoped|pray|praying|prayed|wish|wishing|want|wanna|rather|just|and)\s+%W3%"
        r"(?:not|never|don'?t|won'?t|do\s+not|will\s+not|wouldn'?t)\s+(?:to\s+)?wak(?:e|ing)\s+up\b"),
        r"\b(?:not|never)\s+(?:to\s+)?wake\s+up\s+(?:again|tomorrow|in\s+the\s+morning|ever)\b",
        r"\b(?:go|going)\s+to\s+sleep\s+(?:and|&)\s+(?:just\s+)?(?:not|never)\s+wake\b",
        r"\b(?:don'?t|do\s+not|never)\s+(?:want|wanna|wish)\s+(?:to\s+)?(?:have\s+to\s+)?wake\s+up\b",
        (r"\bwish\w*\s+(?:that\s+)?i\s+(?:didn'?t|did\s+not)\s+(?:have\s+to\s+)?(?:exist|live|be\s+alive|wake\s+up|"
        r"be\s+here)\b"),
        r"\b(?:don'?t|do\s+not)\s+want\s+(?:any\s+more|anymore)\s+mornings\b",
        r"\bno\s+more\s+mornings\b",
    ), guards="h"),
    _rule("passive_better_off_without_me", _PASSIVE, "without gone dead here around died disappeared insurance born "
          "alive existed", (
        (r"\b(?:better|happier|easier|fine|relieved|less\s+\w+|best)\s+(?:off\s+)?(?:(?:on|for)\s+(?:[\w']+\s+){1,2})?"
        r"(?:without\s+me|"
        r"if\s+i\s+%W1%(?:was|were)\s+(?:gone|dead|not\s+(?:here|around|alive)|never\s+born)|"
        r"if\s+i\s+%W1%(?:wasn'?t|weren'?t|wasnt|werent)\s+(?:here|around|alive|born)|"
        r"if\s+i\s+%W1%(?:died|disappeared|ended\s+it|killed\s+myself|never\s+existed|was\s+never\s+born)|"
        r"when\s+i'?m\s+gone|if\s+i'?m\s+gone|with\s+me\s+gone|with\s+my\s+(?:life\s+)?insurance|without\s+me\s+around)"),
        r"\bwithout\s+me\s+(?:around|here|in\s+the\s+way)\b",
        r"\bwhat\s+(?:[\w']+\s+){0,2}(?:life|lives|world|everyone|things)\s+would\s+be\s+(?:like\s+)?without\s+me\b",
    ), guards="h"),
    _rule("passive_nobody_would_notice", _PASSIVE, "notice care miss looking died gone disappeared dead", (
        (r"\b(?:would|wd|will)\s+(?:anyone|anybody|they|people|he|she|my\s+\w+)\s+(?:even\s+)?(?:notice|care|miss\s+me)\s+"
        r"if\s+i\b"),
        r"\b(?:nobody|no\s+one|noone|no-one)\s+(?:would|will|wd)\s+(?:even\s+)?(?:notice|care|miss\s+me|come\s+looking)\b",
        (r"\bif\s+i\s+(?:died|was\s+gone|disappeared|were\s+gone|was\s+dead|were\s+dead)\b[^.!?\n]{0,60}\b(?:nobody|"
        r"no\s+one|noone|wouldn'?t\s+(?:mind|matter|care)|would\s+(?:be|make)\s+(?:no|zero|little)|relieved|relief|"
        r"better|happier|not\s+(?:matter|care))\b"),
    ), guards="h"),
    _rule("passive_no_loss_if_i_died", _PASSIVE, "loss difference mind bus", (
        (r"\b(?:no|zero|little)\s+(?:great\s+)?(?:loss|difference)\b[^.!?\n]{0,30}\bif\s+i\s+(?:did|died|was\s+gone|"
        r"were\s+gone|disappeared|didn'?t\s+wake|was\s+dead|lived)\b"),
        (r"\b(?:wouldn'?t|would\s+not|won'?t)\s+mind\s+(?:if\s+i\s+(?:died|didn'?t\s+wake|was\s+gone|got\s+hit|never)|"
        r"dying|being\s+dead|not\s+waking|not\s+being\s+here)\b"),
        (r"\bhit\s+by\s+a\s+(?:bus|car|truck|train)\b[^.!?\n]{0,40}\b(?:wouldn'?t\s+mind|would\s+be\s+(?:fine|relieved|"
        r"ok|okay)|relieved|relief|hope|welcome)"),
    ), guards="h"),
    _rule("passive_hope_to_die", _PASSIVE, "hope hoping hoped pray praying prayed wish wishing care", (
        (r"\b(?:hope|hoping|hoped|pray|praying|prayed|wish|wishing)\s+%W3%(?:that\s+)?(?:god|the\s+lord|he|death|it)\s+"
        r"(?:just\s+)?(?:takes|will\s+take|would\s+take|take|comes|would\s+come|will\s+come)\s+(?:me|soon|for\s+me|"
        r"quickly)\b"),
        (r"\b(?:hope|hoping|hoped|pray|praying)\s+(?:that\s+)?(?:i|my\s+heart)\s+(?:just\s+)?(?:die|dies|stop|stops|"
        r"don'?t\s+survive|doesn'?t\s+survive|won'?t\s+survive)\b"),
        r"\bhope\s+(?:i|that\s+i)\s+(?:don'?t|do\s+not|won'?t)\s+(?:survive|make\s+it|come\s+back)\b",
        r"\bhope\s+(?:it|death|the\s+end)\s+comes\s+soon\b",
        r"\b(?:don'?t|do\s+not)\s+care\s+(?:anymore\s+|any\s+more\s+)?(?:whether|if)\s+i\s+(?:live|die|wake)\b",
    ), guards="h"),
    _rule("passive_no_future", _PASSIVE, "see imagine future", (
        (r"\b(?:can'?t|cannot|can\s+not|don'?t|hardly|barely)\s+(?:see|imagine)\s+(?:myself|me)\s+(?:making\s+it|"
        r"making\s+through|living|being\s+alive|alive|surviving|getting\s+(?:to|through|past)|reaching|growing\s+old)\b"),
        r"\b(?:can'?t|cannot|don'?t)\s+see\s+(?:a|any)\s+future\s+for\s+(?:myself|me)\b",
    ), guards="h"),
    _rule("passive_not_worth_living", _PASSIVE, "worth live living point nothing problem burden bother forever deserve "
          "stop end over goodbye out", (
        (r"\b(?:life|living|it\s+all|my\s+life|it|this\s+life|going\s+on)\s+(?:is\s+not|isn'?t|is\s+no\s+longer|"
        r"ain'?t|not|no\s+longer|doesn'?t\s+feel|don'?t\s+feel)\s+(?:really\s+)?worth\s+(?:it|living|the\s+(?:pain|struggle|"
        r"effort|fight))\b(?![^.!?\n]{0,20}\b(?:for\s+the\s+(?:money|price|cost)|financially))"),
        r"\bnot\s+worth\s+living\b|\bnothing\s+(?:left\s+)?to\s+live\s+for\b",
        (r"\b(?:don'?t|can'?t|cannot|no\s+longer)\s+see\s+the\s+point\s+(?:anymore|any\s+more|of\s+(?:living|life|"
        r"going\s+on|being\s+alive|anything))\b"),
        (r"\bwon'?t\s+be\s+(?:a\s+)?(?:problem|burden|bother)\s+(?:for|to)\s+(?:anyone|anybody|you|them|my\s+\w+)"
        r"(?:\s+(?:much\s+)?(?:longer|soon))?\b"),
        r"\b(?:sleep|rest)\s+forever\b",
        r"\b(?:want|wish|need)\s+(?:it\s+all|everything|my\s+life|life)\s+to\s+(?:end|stop|be\s+over)\b",
        r"\b(?:this\s+is\s+(?:my\s+)?goodbye|goodbye\s+(?:everyone|everybody|all|world|forever|cruel\s+world))\b",
        r"\b(?:see|there'?s|is)\s+no\s+(?:other\s+)?way\s+out\b|\bcan'?t\s+see\s+(?:a|any)\s+way\s+out\b",
        r"\b(?:don'?t|do\s+not|never)\s+deserve\s+to\s+(?:live|be\s+alive|exist|be\s+here)\b",
    ), guards="h"),
    _rule("passive_last_resort", _PASSIVE, "finds find dead remembering only option favor favour call last", (
        r"\bhope\s+(?:someone|somebody)\s+(?:finds|will\s+find)\s+me\b",
        r"\bfinds?\s+me\s+dead\b",
        r"\bremembering\s+me\s+is\s+the\s+only\b",
        (r"\bonly\s+(?:way\s+out|option|escape|answer|solution)\b[^.!?\n]{0,30}\b(?:die|death|dead|suicide|end|kill|"
        r"not\s+(?:being|be)\s+here)\b"),
        r"\bmy\s+last\s+(?:remaining\s+)?option\b|\blast\s+remaining\s+option\b",
        r"\bfavou?r\s+of\s+not\s+(?:ruining|being|existing|living)\b",
        r"\bcall\s+it\s+a\s+life\b",
        r"\bmy\s+last\s+day\s+(?:here|on\s+earth|alive)\b|\bthat\s+it'?s\s+my\s+last\s+day\b",
    ), guards="h"),
    _rule("passive_no_point", _PASSIVE, "point reason purpose will", (
        (r"\b(?:no|what'?s\s+the|whats\s+the|what\s+is\s+the|see\s+the|see\s+any|see\s+no|any|lost\s+(?:the|my)|"
        r"not\s+any)\s+(?:point|reason|purpose|will)\s+(?:in\s+|of\s+|to\s+|for\s+)?(?:me\s+)?(?:going\s+on|living|life|"
        r"being\s+alive|being\s+here|me\b|of\s+me|in\s+me|keep\w*\s+(?:going|living|on)|(?:to\s+)?(?:live|go\s+on|"
        r"keep\s+living|keep\s+going|be\s+alive|stay\s+alive|exist|carry\s+on|wake\s+up)|existing|anything\s+anymore|"
        r"any\s+of\s+(?:it|this)\s+anymore|it\s+all\s+anymore|trying\s+anymore|my\s+life)\b"),
    ), unless=r"\b(?:point|reason)\s+(?:in|of)\s+(?:going\s+on\s+(?:a|the|holiday|vacation)|living\s+(?:in|at|with|"
       r"alone|near|there))"),
    _rule("passive_giving_things_away", _PASSIVE, "giving give gave given away need needing", (
        (r"\b(?:giv\w*|gave|given|give)\s+(?:away\s+)?(?:all\s+)?(?:of\s+)?(?:my|his|her|their)\s+(?:things|stuff|"
        r"belongings|possessions|valuables|jewel\w*|prized\s+\w+)\b"),
        r"\bgiv\w*\s+away\s+(?:my|his|her|their|all)\b",
        (r"\b(?:won'?t|will\s+not|not\s+going\s+to|no\s+longer)\s+(?:be\s+)?need(?:ing)?\s+(?:them|it|him|her|these|this|"
        r"those|anything|any\s+of)\b[^.!?\n]{0,30}(?:anymore|any\s+more|where\s+i'?m\s+going|after|soon|$|[.!,])"),
        r"\bneed\s+(?:them|it|him|her)\s+where\s+i'?m\s+going\b",
    ), guards="h"),
    _rule("third_better_off_without_them", _THIRD, "without dead", (
        (r"\b(?:says|said|saying|keeps\s+saying|told\s+\w+|tells\s+\w+|thinks)\b[^.!?\n]{0,40}\bbetter\s+off\s+"
        r"(?:without\s+(?:him|her|them)|dead|if\s+(?:he|she|they)\s+(?:was|were|died))\b"),
    )),
    # --- Plans, means, preparation and attempts ----------------------------------------------------
    _rule("plan_hanging", _PLAN, "hang hangs hanging hung hanged noose rope belt cord scarf tie towel towels wire cable "
          "sheet bag neck practise practising practice practicing", (
        r"\b(?:hang|hangs|hanging)\s+(?:myself|%SELF3%)\b",
        r"\b(?:hung|hanged)\s+myself\b",
        r"\b(?:hung|hanged)\s+%SELF3%[^.!?\n]{0,40}\b%RECENT%\b",
        r"\bnoose\b",
        (r"\b(?:rope|belt|cord|scarf|tie|towels?|wire|cable|sheet|bag|plastic\s+bag)\b[^.!?\n]{0,40}\b(?:around|round|on|"
        r"to)\s+(?:my|his|her|their)\s+neck\b"),
        r"\bneck\b[^.!?\n]{0,30}\b(?:tighten\w*|rope|belt|scarf|cord)\b",
        r"\b(?:bought|got|have|buy|buying|found|tied|ready|hidden|hid)\s+(?:a|the|my|some)?\s*rope\b",
        r"\brope\s+(?:ready|hidden|up|tied|is\s+in|in\s+the)\b",
        r"\bpracti[sc]\w*\s+with\s+(?:the|a|my)\s+(?:belt|rope|cord|noose|scarf)\b",
    ), guards="h"),
    _rule("plan_goodbye_letters", _PLAN, "note notes letter letters message messages video videos goodbye farewell gone "
          "order", (
        (r"\b(?:wrote|written|writing|write|left|leave|leaving|finished|done|drafted|sealed)\s+(?:my|a|the|some|each|"
        r"all\s+my)?\s*(?:suicide\s+|goodbye\s+|last\s+|final\s+|farewell\s+)(?:note|notes|letters?|messages?|videos?)\b"),
        r"\b(?:wrote|written|writing)\s+my\s+(?:note|letters?)\b",
        r"\b(?:goodbye|farewell|suicide)\s+(?:note|notes|letters?|messages?|videos?)\b",
        r"\bnote\s+(?:is|was)\s+(?:in|on|under)\s+the\b",
        r"\bthe\s+letter\s+for\s+my\b",
        r"\b(?:pills|tablets|gun|rope)\s+and\s+(?:the|my|a)\s+(?:letter|note)\b",
        r"\b(?:hand|give)\s+(?:them|these|it)\s+out\s+after\s+(?:i'?m|i\s+am|she'?s|he'?s|they'?re)\s+gone\b",
        r"\bput\s+my\s+(?:will|affairs)\s+in\s+order\b[^.!?\n]{0,60}\b(?:won'?t|not)\s+be\s+(?:here|around)",
    ), guards="h", unless=r"\bsuicide\s+note\b[^.!?\n]{0,30}\b(?:movie|film|song|book|show|scene|band|album)\b"),
    _rule("plan_date_or_plan", _PLAN, "picked chosen chose set decided plan", (
        (r"\b(?:picked|chosen|chose|set|decided\s+on)\s+(?:a|the|my)\s+(?:date|day)\b(?!\s+(?:for\s+(?:the|my|his|her|"
        r"our|a|an)\s+|to\s+(?:quit|stop|start|move|meet|finish|get|go|visit|see|begin)))"),
        (r"\b(?:have|got|made|make|making|finalized|finalised|set|with)\s+(?:a|my|the)\s+(?:set\s+|solid\s+|clear\s+|"
        r"whole\s+)?plan\s*(?:$|[.!,]|just\b|ready\b|to\s+(?:end|kill|die|do\s+it|hurt|take\s+(?:my|his|her|their)\s+"
        r"(?:own\s+)?life)|for\s+(?:it|tonight|when|how|ending|killing|my\s+death|dying))"),
        r"\bmade\s+my\s+plan\b|\bhave\s+a\s+set\s+plan\b",
        r"\bmy\s+plan\s+is\s+to\s+(?:end|kill|die|jump|hang|od|overdose)\b",
        r"\b(?:a|the)\s+plan\s+to\s+(?:end|take)\s+(?:my|his|her|their)\s+(?:own\s+)?life\b",
        r"\b(?:i'?ve|ive|i\s+have|already)\s+decided\s+how\b",
    ), guards="h", unless=(
        # Going along with a treatment or care plan: "she's coping with the plan, but...".
        r"\b(?:coping|going\s+along|agreed?|agrees|happy|fine|ok|okay|on\s+board)\s+with\s+the\s+plan\b(?!\s+to\b)")),
    _rule("plan_method", _PLAN, "method methods ways know die kill end how mix mixing mixed", (
        r"\bsuicide\s+methods?\b",
        r"\b(?:try|use|tested|test)\s+my\s+method\b",
        r"\balready\s+(?:have|got|chose|chosen|picked|found)\s+(?:a|my|the)\s+method\b",
        r"\bmethods?\s+(?:of|for|to)\s+(?:suicide|killing\s+myself|dying|ending\s+(?:it|my\s+life)|doing\s+it)\b",
        (r"\b(?:looking|looked|researching|researched|searching|searched|googling|googled|reading|read|look|research|"
        r"find|finding)\s+(?:up\s+|into\s+|at\s+)?(?:[\w']+\s+)?(?:ways|methods|how)\s+(?:to|of|i\s+could)\s+"
        r"(?:do\s+it|die|kill|end\s+(?:it|my|things)|overdose|od|hang|commit|suicide|not\s+wake)\b"),
        r"\bsettled\s+on\s+one\b",
        r"\bhow\s+i\s+(?:would|'?d|will|could|am\s+going\s+to|'?m\s+going\s+to)\s+do\s+it\b",
        (r"\bhow\s+(?:to|can\s+i|do\s+i|could\s+i|should\s+i)\s+(?:die|end\s+(?:it|my\s+life|things)|not\s+wake\s+up|"
        r"kill\s+myself)\b"),
        r"\bmix\w*\b[^.!?\n]{0,50}\bto\s+(?:die|end\s+it|not\s+wake|never\s+wake)\b",
        r"\bdie\s+(?:peacefully|painlessly|quickly|quietly)\b",
        r"\bi\s+know\s+(?:where|when|how)\s*,\s*(?:and\s+)?i\s+know\s+(?:where|when|how)\b",
        r"\b(?:ways|way)\s+(?:i\s+could|to)\s+(?:end\s+my|kill\s+my|die)\b",
    ), guards="h"),
    _rule("plan_everything_ready", _PLAN, "everything through properly", (
        (r"\beverything\s+(?:is\s+|'?s\s+)?(?:set\s+up|ready|sorted|in\s+place|arranged|planned)\s+for\s+(?:tonight|"
        r"tomorrow|today|this\s+weekend|the\s+weekend|friday|saturday|sunday|monday|tuesday|wednesday|thursday)\b"),
        (r"\b(?:bought|got|have|buy|buying|gathered)\s+everything\s+i\s+need\s+to\s+(?:hang|kill|end|die|do\s+it|"
        r"overdose|od)\b"),
        r"\b(?:go|going|gonna)\s+through\s+with\s+it\b",
        r"\bfollow\s+through\b[^.!?\n]{0,30}$",
        r"\b(?:do|doing)\s+it\s+properly\s+this\s+time\b",
    ), guards="h"),
    _rule("plan_lethal_amount", _PLAN, "take takes fatal lethal deadly enough die dying kill end od overdose commit "
          "suicide wake heart survive painless quickest fastest easiest surest cheapest gun", (
        (r"\bhow\s+(?:many|much)\s+(?:of\s+(?:my|these|those|his|her|them|the)\b|[^.!?\n]{0,40}?\b%DRUG%\b)"
        r"[^.!?\n]{0,60}?\b(?:would\s+it\s+take|will\s+it\s+take|does\s+it\s+take|it\s+would\s+take|it'?d\s+take|"
        r"it\s+will\s+take|it\s+takes|(?:is|be|would\s+be|are|will\s+be)\s+(?:fatal|lethal|deadly|enough))"),
        (r"\bhow\s+(?:many|much)\b[^.!?\n]{0,70}\bto\s+(?:die|kill\s+(?:me|myself|someone|a\s+person|you|yourself)|"
        r"not\s+wake|never\s+wake|overdose|od|be\s+fatal|be\s+lethal|stop\s+(?:my|a|your|the)\s+heart|end\s+it|"
        r"not\s+survive)\b"),
        r"\b(?:lethal|fatal|deadly)\s+(?:dose|amount|overdose|quantity|level|number|combination|mix)\b",
        r"\bpainless\s+to\s+(?:die|overdose|od|go|kill|end|bleed\s+out|drown|hang)\b",
        (r"\b(?:painless|quickest|fastest|easiest|surest|best|quick|easy|peaceful|least\s+painful|most\s+effective|"
        r"reliable|cheapest)\s+(?:way|ways|method|methods)\s+(?:to|of)\s+(?:die|dying|kill\s+(?:myself|yourself|oneself|"
        r"someone|a\s+person)|end\s+(?:it|things|my\s+life|your\s+life|a\s+life|this)|od|overdose|commit|suicide|"
        r"not\s+wake)\b"),
        r"\b(?:quickest|fastest|easiest|surest)\s+to\s+end\b",
        r"\bhow\s+long\s+(?:would|will|does|did)\s+it\s+take\s+(?:to|for\s+me\s+to)\s+die\b",
        r"\bhow\s+(?:high|far|tall)\b[^.!?\n]{0,50}\b(?:fall|jump|drop)\b[^.!?\n]{0,40}\b(?:survive|die|kill)",
        r"\bcheapest\s+gun\b",
    ), guards="a"),
    _rule("plan_stockpiling", _PLAN, "@drug stockpile stockpiling stockpiled hoard hoarding hoarded stash stashing "
          "stashed saving saved collecting plenty cheek drawer jar", (
        r"\b(?:stockpil\w*|hoard\w*|stash\w*|squirrel\w*)\s+(?:up\s+|away\s+)?(?:[\w']+\s+){0,3}%DRUG%",
        r"\b%DRUG%\s+(?:[\w']+\s+){0,2}(?:stockpil\w*|hoard\w*|stash\w*)\b",
        (r"\b(?:sav(?:e|ed|ing)|collect\w*|putting|put|kept|hiding|hidden|hid|set(?:ting)?)\s+(?:up\s+|aside\s+|away\s+)?"
        r"(?:all\s+|some\s+|a\s+few\s+)?(?:of\s+)?(?:[\w']+\s+){0,3}%DRUG%\s+(?:up\s+|aside\s+|away\s+)?"
        r"(?:for\s+(?:when|the\s+day|myself|later|the\s+end|it|one\s+day)|until|so\s+(?:i|she|he|they)\s+can|"
        r"to\s+(?:end|do\s+it|take\s+them\s+all|kill|die)|in\s+case|for\s+a\s+couple|for\s+months|for\s+weeks|since)"),
        (r"\b(?:been\s+)?(?:saving|collecting|putting\s+aside|setting\s+aside|keeping\s+back)\s+(?:up\s+)?"
        r"(?:[\w']+\s+){0,3}%DRUG%"),
        r"\bputting\s+(?:it|them)\s+aside\s+for\s+(?:myself|me|when|the\s+day)\b",
        r"\bsaving\s+them\s+for\s+when\b",
        r"\b(?:saved|saving)\s+(?:up\s+)?enough\s+(?:pills|tablets|meds|to\s+(?:do|end|die|kill))\b",
        (r"\b(?:have|got|saved|had)\s+(?:enough|plenty)\s+(?:of\s+)?(?:my\s+|his\s+|her\s+)?(?:[\w']+\s+)?%DRUG%\s+"
        r"(?:saved|to\s+(?:do\s+it|end|die|kill))"),
        r"\bi\s+have\s+plenty\s+of\s+(?:insulin\s+)?pens\b",
        (r"\b(?:saved|saving|stored|keeping)\s+%W2%(?:them|it|pills|meds)\s+in\s+(?:my|a|the)\s+(?:cheek|drawer|jar|box|"
        r"sock)"),
    ), guards="h", unless=r"\bsav(?:e|ed|ing)\s+(?:money|\$|on|up\s+to|some\s+money)\b"),
    _rule("plan_enough_to_do_it", _PLAN, "enough once count counting counted", (
        (r"\b(?:have|got|saved|saving|collected|need|needs|is\s+that|there'?s)\s+(?:[\w']+\s+){0,3}enough\b[^.!?\n]{0,50}"
        r"\bto\s+(?:do\s+it|end\s+(?:it|things|my|this)|die|kill\s+(?:myself|me|him|her)|be\s+done|not\s+wake|"
        r"never\s+wake|go\s+through|finish\s+(?:it|the\s+job)|take\s+(?:them\s+)?all|overdose|od)\b"),
        r"\benough\s+now\s+to\s+end\b",
        r"\b(?:take|took|put|swallow)\s+(?:them|it|all\s+of\s+them|the\s+lot|all)\s+(?:all\s+)?(?:on\s+)?at\s+once\b",
        (r"\bcount\w*\s+(?:my|the|all|his|her)\s+(?:[\w']+\s+)?(?:pills|tablets|meds)\b[\s\S]{0,200}\b(?:is|will|would)\s+"
        r"(?:that|this|it)\s+(?:be\s+)?enough\b"),
    ), window=True),
    _rule("plan_means_ready", _PLAN, "lined laid counted front ready suspicious", (
        (r"\b(?:pills|tablets|meds|bottles?|everything)\b[^.!?\n]{0,40}\b(?:lined\s+up|laid\s+out|set\s+out|"
        r"in\s+front\s+of\s+me|counted\s+out|ready\s+(?:for|to\s+go|on))\b"),
        r"\b(?:more|extra)\s+%DRUG%\s+without\b[^.!?\n]{0,40}\bsuspicious\b",
    )),
    _rule("plan_thinking_of_harm", _PLAN, "overdosing taking swallowing cutting hurting burning jump jumping", (
        (r"\b(?:thinking|thought|think|considering)\s+(?:about|of)\s+(?:overdosing|taking\s+(?:all|every|the\s+whole|a\s+bottle)|"
        r"swallowing\s+(?:all|every|the\s+whole)|cutting|hurting\s+myself|burning\s+myself|jumping)\b"),
        r"\b(?:going\s+to|gonna|will|want\s+to|wanna|about\s+to)\s+jump\s*(?:$|[.!,]|off\b|from\b|tonight\b)",
    ), guards="h"),
    _rule("plan_intent_to_overdose", _PLAN, "@drug", (
        (r"\b(?:going\s+to|gonna|will|ll|wants?\s+to|wanna|threaten\w*\s+to|plans?\s+to|planning\s+to|about\s+to|"
        r"ready\s+to)\s+(?:take|swallow|overdose\s+on|od\s+on|down|eat|inject|use)\s+(?:all|the\s+whole|every|the\s+rest|"
        r"everything|a\s+(?:whole\s+)?bottle)\s+(?:of\s+)?(?:[\w']+\s+){0,2}%DRUG%"),
    ), guards="h"),
    _rule("plan_gun", _PLAN, "@gun barrel trigger pull shells bullets ammo", (
        (r"\b(?:%GUN%|barrel)\b[^.!?\n]{0,40}\b(?:to|against|in|into|on)\s+(?:my|his|her)\s+(?:head|mouth|temple|chest|"
        r"neck|heart|chin)\b"),
        r"\b(?:finger|hand)\s+on\s+the\s+trigger\b",
        r"\b(?:wanted|want|wanna)\s+to\s+pull\s*(?:$|[.!]|it\b|the\s+trigger)",
        r"\b(?:put|held|hold|holding|pointed|pointing)\s+(?:a|the|my|his|her)\s+(?:loaded\s+)?%GUN%\s+(?:to|against|in)\b",
        (r"\b%GUN%\b[^.!?\n]{0,60}\b(?:use\s+it\s+on\s+(?:myself|himself|herself|me)|use\s+it\s+(?:tonight|today|"
        r"tomorrow|this\s+week)|end\s+(?:it|my|his|her|things)|on\s+(?:myself|himself|herself)|kill\s+(?:myself|himself|"
        r"herself)|felt\s+(?:relief|calm|peace)|wants?\s+to\s+die|suicid\w*|loaded\s+on\s+my|bullet\s+for\s+(?:me|myself))"),
        (r"\b(?:bought|buy|buying|get|getting|purchase\w*)\s+(?:a\s+)?%GUN%\b[^.!?\n]{0,60}\b(?:end|kill|die|myself|"
        r"suicid\w*)"),
        r"\bwhere\s+the\s+(?:shotgun\s+)?(?:shells|bullets|ammo)\s+are\b",
        r"\b(?:grabbed|picked\s+up|took\s+out|got\s+out|loaded)\s+(?:my|a|the|his|her)\s+%GUN%",
    ), guards="h"),
    _rule("plan_gun_with_ideation", _PLAN, "@gun", (r"\b%GUN%\b",), window=True, guards="hi",
          unless=r"^(?![\s\S]*\b(?:end\s+(?:it|my\s+life|his\s+life|her\s+life|things|everything)|ending\s+it|"
          r"kill\s+(?:myself|himself|herself|me|him|her)|suicid\w*|want\w*\s+to\s+die|wants?\s+to\s+end|"
          r"(?:use|using)\s+it\s+on|not\s+be\s+(?:here|around)|shoot\s+(?:myself|himself|herself)|"
          r"hurt\s+(?:myself|himself|herself|her|him|me|you|them|people))\b)"),
    _rule("plan_jump_drive_gas", _PLAN, "jump* bridge ledge railing roof balcony overpass drive driving drove crash "
          "crashing steer road traffic garage car exhaust charcoal tape taped taping seal* train bus truck tracks myself", (
        (r"\bjump\w*\s+(?:off|from|in\s+front\s+of|infront\s+of|under|into|out\s+of)\s+(?:the|a|my|this|that|an)?\s*"
        r"(?:[\w']+\s+)?(?:bridge|building|roof|cliff|balcony|train|bus|car|truck|ledge|window|tower|overpass|"
        r"parking\s+garage|traffic|highway|freeway|river|lake|sea|ocean|motorway)\b"),
        (r"\b(?:standing|stood|sitting|sat|climb\w*)\s+(?:on|onto|over)\s+(?:the|a)\s+(?:bridge|ledge|railing|roof|"
        r"balcony|window\s*sill|overpass|bridge\s+railing)\b"),
        (r"\b(?:drive|driving|drove|crash|crashing|steer)\s+(?:my\s+|the\s+|his\s+|her\s+|it\s+)?(?:car\s+|truck\s+|"
        r"chair\s+|wheelchair\s+|scooter\s+)?(?:into|off|in\s+front\s+of)\s+(?:the|a|an|oncoming)\s+(?:[\w']+\s+)?"
        r"(?:lake|river|sea|ocean|wall|tree|bridge|cliff|road|traffic|water|truck|bus|quarry|canal|pole|train)\b"),
        r"\b(?:drive|driving|drove|run|ran)\s+(?:[\w']+\s+){0,4}(?:off\s+the\s+road|into\s+traffic)\b",
        r"\b(?:car|engine|motor)\s+running\b[^.!?\n]{0,60}\b(?:garage|closed|shut)\b",
        r"\bgarage\b[^.!?\n]{0,60}\b(?:car|engine)\s+running\b",
        r"\b(?:sat|sitting|sit)\s+in\s+(?:my|the)\s+(?:[\w']+\s+){0,2}car\s+in\s+the\s+(?:closed\s+|shut\s+)?garage\b",
        r"\b(?:hose|pipe|tube)\b[^.!?\n]{0,30}\bexhaust\b|\bexhaust\b[^.!?\n]{0,30}\b(?:hose|pipe|tube)\b",
        r"\bcharcoal\b[^.!?\n]{0,40}\b(?:tape|windows?|vents?|seal\w*|bathroom|car|tent)\b",
        r"\b(?:tape|taped|taping|seal\w*)\s+(?:up\s+)?(?:the|all\s+the)\s+(?:windows|vents|doors)\b",
        r"\brun\s+(?:myself|me)\s+over\b",
        # "Into" only traffic: stepping into a car or a bus is how one gets in.
        (r"\b(?:walk|step)\s+(?:in\s+front\s+of\s+(?:a|the)\s+(?:train|bus|traffic|truck|car)|into\s+(?:the\s+)?"
        r"(?:oncoming\s+)?traffic)\b"),
        r"\bon\s+the\s+(?:train\s+)?tracks\b",
    ), guards="h", unless=r"\bjump\w*\s+(?:off|from)\s+(?:the|a)\s+(?:couch|bed|sofa|chair|table|diving\s+board)|"
       r"\bdriv\w*\s+(?:into|off)\s+(?:the|a)\s+(?:driveway|parking|garage|town|city|lot)"),
    _rule("plan_stop_eating_on_purpose", _PLAN, "purpose stop stopped quit", (
        r"\b(?:stop\w*|not)\s+(?:eating|drinking|taking\s+(?:my|his|her)\s+\w+)\b[^.!?\n]{0,40}\bon\s+purpose\b",
        r"\bon\s+purpose\b[^.!?\n]{0,40}\bstop\w*\s+(?:eating|drinking)",
        (r"\b(?:stopped|stop|quit)\s+taking\s+(?:my|his|her)\s+%W2%(?:pills|meds|medication|medicine|insulin)\s+"
        r"(?:because|so|to)\s+(?:i|he|she)\s+(?:(?:honestly|just|really)\s+)?(?:don'?t|doesn'?t|want|wants|wanna|"
        r"no\s+longer)\s+(?:care|want\s+to\s+live|to\s+die|die)"),
    )),
    _rule("plan_recent_attempt", _PLAN, "tried attempt attempts attempted attempting trying tryna try almost nearly "
          "failed survived", (
        (r"\b(?:tried|trying|tryna|try|almost|nearly)\s+(?:to\s+)?(?:kill|end|hang|overdose|od|unalive|suicide|off|drown|"
        r"jump|shoot|poison|cut)\w*\s+(?:my|myself|me|him|her|his|it|things|%SELF3%)\b"),
        r"\b(?:tried|trying|try)\s+to\s+take\s+(?:my|his|her|their)\s+(?:own\s+)?life\b",
        (r"\b(?:after|since|from|following|survived)\s+(?:my|his|her|the|a)\s+(?:suicide\s+|last\s+|recent\s+|failed\s+)?"
        r"attempt\b"),
        r"\b(?:my|his|her|an|the)\s+(?:failed\s+)?attempt\s+(?:yesterday|last\s+(?:night|week)|today|this\s+week|on)\b",
        r"\bfailed\s+attempt\b",
        r"\battempted\s+(?:suicide|to\s+(?:kill|end|take\s+(?:my|his|her|their)|hang|overdose|od|die)|it|again|twice)\b",
        r"\b(?:i|he|she|they)\s+attempted\s*(?:$|[.,!]|\s+(?:last|yesterday|on|this|a\s+few|two|three))",
    ), guards="h"),
    _rule("plan_doing_it_soon", _IDEATION, "tonight tomorrow today soon weekend week monday tuesday wednesday "
          "thursday friday saturday sunday might close ready done gone everything let free courage guts nerve follow "
          "deed reason die dying death suicide killing", (
        (r"\b(?:thinking\s+(?:about|of)|going\s+to|gonna|will|plan\s+to|planning\s+to|ready\s+to|might\s+just|"
        r"i\s+might|i'?ll\s+just|ill\s+just|i\s+will\s+just)\s+(?:do|doing)\s+it\s+(?:tonight|tomorrow|today|this\s+week|"
        r"soon|this\s+weekend|on\s+(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"),
        r"\b(?:might|may)\s+just\s+do\s+it\b",
        r"\b(?:i'?m|im|i\s+am)\s+(?:really\s+)?doing\s+it\s+(?:tonight|tomorrow|today|this\s+weekend|soon)\b",
        r"\b(?:i'?m|im|i\s+am)\s+(?:so\s+)?(?:close|ready)\s+to\s+(?:doing|do)\s+it\b",
        r"\bi\s+think\s+i'?m\s+close\b",
        r"\bafter\s+(?:that|today|this)\b[^.!?\n]{0,20}\bi'?m\s+(?:done|gone|out)\b",
        r"\b(?:i'?m|im|i\s+am)\s+done\s+with\s+(?:life|living|it\s+all|this\s+world)\b",
        r"\beverything\s+is\s+over\b",
        r"\b(?:ready\s+to|going\s+to|gonna)\s+let\s+go\b",
        r"\bfree\s+and\s+ready\b",
        r"\b(?:courage|guts|nerve)\s+to\s+(?:do\s+it|die|end|kill|go\s+through|follow\s+through|commit)\b",
        r"\bone\s+day\s+i'?ll\s+(?:get|have|find)\s+the\s+courage\b",
        r"\bwish\w*\s+i\s+had\s+the\s+(?:courage|guts|nerve)\b",
        r"\bbe\s+able\s+to\s+follow\s+through\b",
        r"\b(?:haven'?t|have\s+not|not|didn'?t|never)\s+(?:yet\s+)?(?:done|do|did)\s+the\s+deed\b",
        r"\bonly\s+reason\s+i\s+(?:haven'?t|have\s+not|didn'?t|am\s+still\s+here|'?m\s+still\s+(?:here|alive))\b",
        (r"\b(?:don'?t|do\s+not)\s+(?:want|wanna)\s+(?:to\s+)?die\b[^.!?\n]{0,30}\b(?:but|yet)\b[^.!?\n]{0,40}\b"
        r"(?:have\s+to|need\s+to|going\s+to|gonna|should|must|will|deserve)\b"),
        (r"\b(?:dying|death|suicide|killing\s+myself)\s+(?:is|seems|feels\s+like)\s+(?:the|my)\s+(?:only\s+)?(?:way|"
        r"answer|option|solution|escape)\b"),
    ), guards="h"),
    _rule("plan_thats_it_im_done", _IDEATION, "done", (r"\bthat'?s\s+it\W+i'?m\s+done\b",), window=True),
    # --- Self-harm, current or urges ---------------------------------------------------------------
    _rule("self_harm_words", _SELF_HARM, "self selfharm selfharmed selfharming injury injuring sh urge urges relapse "
          "relapsed relapsing", (
        r"\bself[- ]?harm\w*|\bselfharm\w*|\bself[- ]?injur\w*",
        r"\bsh\s+(?:urges?|scars?|relapse|again|wounds?|cuts?|marks)\b|\b(?:my|the)\s+sh\b",
        r"\burges?\s+to\s+(?:cut|hurt|harm|burn|hit|sh|self)\b",
        r"\b(?:relapsed|relapse|relapsing)\b[^.!?\n]{0,25}\b(?:cut\w*|sh|self[- ]?harm\w*|harm\w*|burn\w*)\b",
        r"\b(?:cut\w*|sh|self[- ]?harm\w*|harm\w*)\b[^.!?\n]{0,20}\brelaps\w*",
    ), guards="hi", unless=r"^(?![\s\S]*\b(?:relaps\w*|again|urges?)\b)[\s\S]*(?:\b(?:clean|free)\s+(?:of|from)\s+"
       r"(?:self[- ]?harm|sh|cutting)\b|\b(?:days?|weeks?|months?|years?)\s+(?:clean|free)\b)"),
    _rule("self_harm_hurt_self", _SELF_HARM, "myself himself herself themselves themself", (
        (r"\b(?:cut|cutting|cuts|slit\w*|slash\w*|carv\w*|burn\w*|burnt|scratch\w*|bite|bites|biting|pinch\w*|punch\w*|"
        r"hit|hits|hitting|bang\w*|bash\w*|stab\w*|harm\w*|beat\w*|smack\w*|mutilat\w*|bruis\w*|choke|choking|"
        r"strangl\w*)\s+(?:myself|%SELF3%)\b(?!\s+(?:off|from|out|some\s+slack|a\s+break|short))"),
        (r"\b(?:hurt|hurting|hurts)\s+(?:myself|%SELF3%)\b(?![^.!?\n]{0,30}\b(?:when\s+(?:i|he|she)\s+fell|falling|"
        r"lifting|moving|at\s+the\s+gym|exercising|on\s+the\s+(?:stairs|ice)|in\s+a\s+fall|slipped|tripped|trying|doing)\b)"),
    ), guards="hi", unless=r"\b(?:shaving|cooking|chopping|by\s+accident|accidentally|accidental|slicing|opening|"
       r"gardening|woodwork|tremors?|shaky)\b|\b(?:hands?|arms?)\s+(?:jerk|shake|tremble)",
       # "has started shaving but always cuts himself" (the clause after "but" no longer says shaving)
       not_after=r"\bshav\w*\s+(?:[\w']+\s+){0,3}"),
    _rule("self_harm_again", _SELF_HARM, "cut* scratch* burn* hurt* harm* scar* reopen* again hide hiding scrap* "
          "hitting stabbing rubb* pick* tear tore sh", (
        r"\b(?:cut|cutting|burn\w*|hurt|hurting|harm\w*)\s+(?:again|deeper|worse)\b",
        r"\bscratch(?:ed|ing)\s+again\b",
        (r"\b(?:started|start|been|keep|kept|stop|stopped|quit|urge\s+to|urges\s+to|relapsed\s+on|back\s+to)\s+"
        r"(?:[\w']+\s+)?cutting\b(?!\s+(?:[\w']+\s+){0,2}(?:in\s+half|pills?|tablets?|back|down|costs|corners|carbs|"
        r"sugar|out|off|hair|grass|wood|coupons|classes|school))"),
        (r"\bcutting\s+(?:my(?:self|\s+(?:arms?|wrists?|legs?|thighs?|stomach|skin|belly|body))|again|deeper)\b"
        r"(?!\s+(?:off|from|out))"),
        r"\b(?:cutting|burning|hurting\s+myself|hitting\s+myself)\s+to\s+(?:punish|cope|feel|release|calm)\b",
        (r"\b(?:want|wanna|need|needing|urge|urges|itching|craving|dying)\s+(?:to\s+)?(?:cut|burn\s+myself|hurt\s+myself|"
        r"self[- ]?harm|sh)\b(?!\s+(?:down|back|out|off|it|the|my\s+(?:hair|nails)|costs|carbs|sugar|salt|corners|ties|in))"),
        (r"\b(?:cutting|burning|scraping|hitting|stabbing)\s+(?:my|his|her)\s+(?:arms?|wrists?|legs?|thighs?|stomach|skin|"
        r"hands?|body|face|feet|foot|toes|fingers)\b"),
        (r"\b(?:scrap|scratch|rubb|pick|tear|tore)\w*\s+(?:my|his|her)\s+(?:[\w']+\s+)?(?:arms?|skin|legs?|wrists?|hands?)\s+"
        r"(?:raw|bloody|open)\b"),
        (r"\bcut\s+(?:my|his|her)\s+(?:arms?|wrists?|legs?|thighs?|stomach|skin|belly)\b(?![^.!?\n]{0,30}\b(?:on\s+(?:a|the)|"
        r"accident\w*|shaving|cooking|chopping))"),
        (r"\b(?:cuts|scratches|burns|wounds)\s+(?:on|in|all\s+over)\s+(?:my|his|her)\s+(?:arms?|wrists?|legs?|thighs?|"
        r"stomach|body)\b"),
        r"\bhid(?:e|ing)\s+(?:the|my|his|her)\s+(?:cuts|scars|marks|burns|wounds|bruises)\b",
        r"\b\d+\s+cuts\b",
        r"\bscars?\s+(?:opened|reopened)\b|\b(?:keep|kept)\s+reopening\b|\b(?:went|go|going)\s+over\s+them\s+again\b",
    ), guards="h", unless=r"\bcut(?:ting)?\s+(?:back|down|my\s+(?:hair|nails|toenails|food|meat))\b|\bhair\s*cut|"
       r"\bfrom\s+scratch"),
    _rule("self_harm_until_it_bleeds", _SELF_HARM, "until till til untill hard purpose deliberately intentionally edge", (
        (r"\b(?:until|till|til|untill|so\s+hard)\s+(?:it|they|i|he|she)\s+(?:\w+\s+)?(?:bleed|bled|bleeds|bruised?|bruises|"
        r"goes\s+black|turns?\s+black|(?:is|are|was)\s+(?:raw|bleeding|black\s+and\s+blue))\b"),
        (r"\b(?:on\s+purpose|deliberately|intentionally)\b[^.!?\n]{0,40}\b(?:to\s+feel\s+something|to\s+punish\s+myself|"
        r"hurt\s+myself)"),
        (r"\b(?:burn\w*|burnt|cut\w*|hit\w*|hurt\w*|stab\w*|scratch\w*|punch\w*|bang\w*|pull\w*|bite|bit|bruis\w*|"
        r"slam\w*|scald\w*|smash\w*|break\w*|broke|crush\w*|drop\w*|trap\w*|shut)\s+"
        r"(?:my|myself|his|her|him)\b[^.!?\n]{0,40}\b(?:on\s+purpose|deliberately|intentionally)\b"),
        r"\bonly\s+thing\s+that\s+takes\s+the\s+edge\s+off\b",
    ), guards="h", unless=(
        # Nails bitten or picked to bleeding (a habit, often with dementia), not an injury done on purpose.
        r"\b(?:bit\w*|chew\w*|pick\w*|peel\w*)\s+(?:at\s+)?(?:my|his|her|their|the)\s+(?:finger\s*)?(?:nails?|"
        r"cuticles?)\s+(?:until|till|til|untill)\b(?![^.!?\n]*\b(?:on\s+purpose|deliberately|to\s+feel|punish))")),
    _rule("self_harm_acts", _SELF_HARM, "knife blade razor glass scissors shard iron lighter cigarette lit hot carv* "
          "etch* scratch* stab* slit* slash* wrists wrist veins throat bang banging bangs banged bash* slam* dug dig "
          "digging stitches hair myself own skin cut cutting cuts", (
        (r"\b(?:press\w*|hold\w*|held|put\w*)\s+(?:the|a|my)\s+(?:curling\s+iron|iron|lighter|cigarette|lit\s+\w+|hot\s+\w+|"
        r"knife|blade|razor)\s+(?:on|to|against|into)\s+(?:my|his|her)\b"),
        (r"\b(?:knife|blade|razor|glass|scissors|shard)\s+(?:to|against|on|into|across)\s+(?:my|his|her|their)\s+"
        r"(?:wrists?|throat|neck|arms?|skin|thigh)\b"),
        (r"\b(?:carv\w*|etch\w*|scratch\w*|cut\w*)\s+(?:[\w']+\s+){0,3}(?:into|in|on)\s+(?:my|his|her)\s+(?:arms?|wrists?|"
        r"legs?|thighs?|skin|stomach)\b"),
        r"\bstab\w*\s+(?:my|his|her)\s+(?:legs?|arms?|hands?|thighs?|stomach)\b",
        r"\b(?:slit\w*|slash\w*|cut\w*|open\w*)\s+(?:my|his|her|their)\s+(?:wrists?|throat|veins)\b",
        # Not a knock on a cupboard or a beam ("I bang my head on the low kitchen cupboard"), unless on purpose.
        (r"\b(?:bang|bangs|banging|bash\w*|slam\w*)\s+(?:my|his|her|their)\s+head\s+(?:on|against|into|off)\b"
        r"(?!\s+(?:the|a|that)\s+(?:[\w']+\s+){0,2}(?:cupboards?|cabinets?|shelf|shelves|beams?|door\s*frames?|"
        r"doorframes?|ceiling|car\s+door|boot|hatch|bunk|headboard)\b(?![^.!?\n]*\b(?:on\s+purpose|deliberately|"
        r"intentionally|until|to\s+feel|punish)))"),
        r"\bbanged\s+(?:my|his|her)\s+head\b[^.!?\n]{0,40}\b(?:on\s+purpose|again|until|deliberately)\b",
        r"\b(?:dug|dig|digging)\s+(?:my|his|her)\s+nails\s+into\b",
        r"\bpull\w*\s+(?:my|his|her)\s+(?:stitches|hair)\s+out\b|\bpull\w*\s+out\s+(?:my|his|her)\s+(?:stitches|hair)\b",
        r"\buse\s+it\s+on\s+myself\b",
        r"\b(?:hitting|punching|slapping)\s+(?:my|his|her)\s+own\b",
        r"\bwake\s+up\s+with\s+scratches\b",
        r"\b(?:pinch\w*|twist\w*|pick\w*|scratch\w*|claw\w*)\b[^.!?\n]{0,30}\bskin\b[^.!?\n]{0,40}\buntil\b",
    ), guards="h"),
    # --- Someone else in danger --------------------------------------------------------------------
    _rule("third_wants_to_die", _THIRD, "die dead dying end ending kill wants wanting live alive here suicide suicidal "
          "hang overdose od jump self harming ready", (
        (r"\b(?:wants|wanting|wanted|talk\w*\s+about|says|said|saying|keeps\s+saying|told\s+(?:me|us|\w+)|threaten\w*|"
        r"tells\s+\w+)\s+(?:that\s+)?(?:%PRON3%\s+)?(?:\w+\s+)?(?:to\s+)?(?:die|be\s+dead|dying|end\s+it|ending\s+it|"
        r"kill\s+(?:him|her|them)sel\w+|not\s+(?:live|be\s+alive|be\s+here|wake))\b%NOTWHERE%"),
        r"\b(?:wants|wanting|threaten\w*|planning|plans|going)\s+to\s+(?:die|end\s+it|kill\s+%SELF3%)\b",
        (r"\b%PRON3%\s+(?:really\s+)?(?:wants?|wanted|is\s+going|was\s+going|s\s+going|'?s\s+going|will|ll|is\s+gonna|"
        r"gonna|is\s+ready|s\s+ready|has\s+a\s+plan|plans?|is\s+planning|is\s+trying|tried|keeps\s+trying|might|could)\s+"
        r"(?:to\s+)?(?:die|end\s+it|end\s+(?:his|her|their)|kill\s+%SELF3%|go\s+through|suicide|jump|overdose|od|hang)\b"),
        (r"\b%PRON3%\s+(?:doesn'?t|does\s+not|don'?t|no\s+longer|isn'?t)\s+(?:want|wanna|going)\s+to\s+(?:live|be\s+alive|"
        r"be\s+here|go\s+on|wake\s+up)\b%NOTWHERE%"),
        (r"\b(?:says|said|saying)\s+(?:that\s+)?(?:%PRON3%|she'?s|he'?s)\s+(?:is\s+|s\s+)?(?:ready\s+to\s+go|going\s+to\s+"
        r"(?:die|end|kill|do\s+it)|done\s+with\s+life|not\s+going\s+to\s+be\s+(?:here|around))\b"),
        (r"\b(?:suicidal|self[- ]?harming)\s+(?:dad|mom|mum|father|mother|son|daughter|husband|wife|friend|brother|"
        r"sister|partner|teen|child|kid|patient|client|resident)\b"),
    ), guards="hi", unless=_PLACE_OF_DEATH),
    _rule("third_means", _THIRD, "stockpiling hoarding saving collecting stashing @gun rope noose waving "
          "pointing holding note locked ways goodbye farewell lost", (
        (r"\b(?:been|is|was|keeps|kept|started)\s+(?:\w+\s+)?(?:stockpiling|hoarding|saving|collecting|stashing)\s+"
        r"(?:up\s+)?(?:[\w']+\s+){0,2}%DRUG%"),
        (r"\b(?:has|got|bought|showed\s+me|keeps)\s+(?:a|his|her|an\s+old|the|my)\s+(?:\w+\s+)?(?:%GUN%|rope|noose)\b"
        r"[^.!?\n]{0,60}\b(?:end\s+it|die|kill|use\s+it\s+on|suicid\w*|ending\s+it|end\s+(?:his|her|their)|"
        r"shoot\s+%SELF3%|hurt)\b"),
        (r"\b(?:end\s+it|die|kill\s+%SELF3%|ending\s+it|suicid\w*)\b[^.!?\n]{0,60}\b(?:has|got|bought|with)\s+"
        r"(?:a|his|her|the)\s+(?:%GUN%|rope|noose)\b"),
        r"\b(?:waving|pointing|holding)\s+(?:a|his|her|the)\s+(?:%GUN%|knife)\b",
        r"\bfound\s+(?:a|the|her|his)\s+note\b",
        r"\b(?:texted|messaged|sent|said|wrote|called)\s+(?:me\s+|us\s+)?(?:a\s+)?(?:goodbye|farewell)\b",
        r"\balmost\s+lost\s+(?:him|her|them|someone|my\s+\w+)\b",
        r"\blocked\s+(?:himself|herself|themselves)\s+in\b",
        r"\b(?:looking|looked)\s+up\s+ways\b",
    ), guards="h"),
    # --- Overdose or poisoning now -----------------------------------------------------------------
    _rule("overdose_words", _OVERDOSE, "overdos* od od'd oded", (
        r"\b(?:overdos\w*|od'd|oded|od\s+(?:on|ing)|(?:i|he|she|they)\s+od)\b",
    ), guards="hi", unless=r"\b(?:narcan|naloxone)\b[^.!?\n]{0,40}\b(?:carry|keep|training|kit|where)|"
       r"\boverdose\s+awareness\b|\b(?:deaths?|autopsy|allegedly|reportedly|celebrity|epidemic|crisis|statistics)\b|"
       # "overdoes it on good days" (too much activity; normalised to "overdose it")
       r"\boverdo(?:se|ses|sing|es|ing|ne)?\s+it\s+(?:on\s+(?:the\s+)?(?:good|busy|better)\s+days?|physically|"
       r"(?:and|then)\s+(?:crash\w*|pays?|is\s+(?:bed\w*|wiped|exhausted)|ends?\s+up))"),
    _rule("overdose_took_too_many", _OVERDOSE, "took taken swallowed ate eaten chewed downed popped injected used put "
          "drank drunk gulped necked consumed snorted given gave giving double triple doubled dosed dose doses chugged had", (
        (r"\b(?:took|taken|swallowed|ate|eaten|chewed|downed|popped|injected|used|put\s+on|drank|drunk|gulped|necked|"
        r"consumed|snorted|been\s+giving)\s+(?:[\w']+\s+){0,3}?%QTY%\b[^.!?\n]{0,40}?\b(?:%DRUG%|%POISON%|"
        r"of\s+(?:them|those))\b"),
        (r"\b(?:took|taken|swallowed|ate|eaten|chewed|downed|popped|injected|gave|given)\b[^.!?\n]{0,50}?\b%DRUG%\b"
        r"[^.!?\n]{0,30}?\b(?:twice|two\s+times|three\s+times|\d+\s+times|double|by\s+mistake|instead\s+of\s+(?:one|his|"
        r"her|my)|at\s+once|too\s+(?:many|much)|on\s+purpose)\b"),
        r"\b(?:double|triple)[- ]?dos(?:e|ed|es|ing)\b",
        (r"\b(?:took|swallowed|drank|chugged|downed|drunk)\s+(?:a|the|half\s+a|an\s+entire|a\s+whole|most\s+of\s+a)\s+"
        r"bottle\s+of\s+(?:[\w']+\s+)?(?:%DRUG%|%POISON%|cough\s+\w+)\b"),
        (r"\b(?:had|taken|took)\s+(?:about\s+|like\s+|maybe\s+|around\s+)?(?:five|six|seven|eight|nine|ten|\d+)\s+"
        r"(?:of\s+them\s+)?(?:today|this\s+morning|tonight)\b"),
        r"\b(?:two|three|four|\d+)\s+doses\s+(?:at\s+once|together|by\s+mistake|in\s+a\s+row|instead)\b",
        r"\bdoubled\s+(?:up\s+)?(?:on\s+)?(?:my|his|her|the)\s+(?:[\w']+\s+)?%DRUG%",
        (r"\b(?:took|taken|swallowed|ate|popped|downed)\s+(?:the|a|my|her|his)\s+(?:whole|entire)\s+(?:bottle|pack|box|"
        r"packet|strip|blister|jar|tub|container|prescription)\b"),
        (r"\b(?:took|taken|swallowed|ate|popped|downed)\s+(?:[\w']+\s+){0,3}\d+\s+(?:\d+\s*mg\s+)?(?:[\w']+\s+)?%DRUG%"
        r"[^.!?\n]{0,30}\b(?:ago|just|now|on\s+purpose|at\s+once)\b"),
        (r"\b(?:took|taken|swallowed|ate|popped|downed)\s+(?:[\w']+\s+){0,2}(?:\d{2,}|like\s+\d+|about\s+\d+|over\s+\d+)\s+"
        r"(?:[\w']+\s+)?%DRUG%"),
    ), guards="h", unless=r"\b(?:what\s+(?:happens|if)|can\s+i|should\s+i|is\s+it\s+(?:safe|ok|okay)|how\s+(?:many|much)\s+"
       r"can)\b(?![^.!?\n]{0,60}\b(?:took|swallowed|taken|ago|just)\b)",
       not_after=r"\b(?:doctor|gp|psychiatrist|nurse|prescriber|pharmacist)"),
    _rule("overdose_swallowed_something", _OVERDOSE, "swallowed ate eaten chewed drank drunk got gotten licked sucked", (
        (r"\b(?:swallowed|ate|eaten|chewed|drank|drunk|got\s+into|gotten\s+into|licked|sucked\s+on)\s+(?:[\w']+\s+){0,4}?"
        r"(?:%POISON%|%DRUG%|pill\s+box|pillbox|pill\s+organi[sz]er|medicine\s+cabinet|fentanyl\s+patch|my\s+purse)\b"),
    ), guards="hi", unless=r"\b(?:drank|drink)\s+(?:[\w']+\s+){0,3}(?:water|juice|milk|tea|coffee|fluids?|soda|liquids?|"
       r"broth|shakes?|ensure|smoothies?)\b|\bever\s+(?:drank|ate|eaten|swallowed)\b"),
    _rule("overdose_alcohol_and_drugs", _OVERDOSE, "mixed combined took taken swallowed popped had drank drunk downed", (
        (r"\b(?:mixed|combined)\s+(?:[\w']+\s+){0,4}?(?:%ALCOHOL%|%DRUG%)\s+(?:and|with)\s+(?:[\w']+\s+){0,2}"
        r"(?:%DRUG%|%ALCOHOL%)\b"),
        r"\b(?:took|taken|swallowed|popped|had)\s+(?:[\w']+\s+){0,4}?%DRUG%\s+with\s+(?:[\w']+\s+){0,4}?%ALCOHOL%\b",
        (r"\b(?:drank|drunk|downed|had)\s+(?:[\w']+\s+){0,5}?(?:%ALCOHOL%|bottle\s+of\s+\w+)\s+(?:and|with)\s+"
        r"(?:took\s+)?(?:my|his|her|some|a\s+bunch\s+of|all)\s+(?:[\w']+\s+){0,3}?%DRUG%\b"),
    ), guards="i"),
    _rule("overdose_poisoned_now", _OVERDOSE, "poisoned poisoning poison eyes responding wake breathing lips floating "
          "seeing heart", (
        (r"\b(?:i|he|she|they|we|my\s+\w+)\s+(?:was|were|have\s+been|has\s+been|got|just\s+got|think\s+\w+\s+(?:was|got))\s+"
        r"poisoned\b"),
        r"\bpoison\w*\s+(?:him|her|them|me|my|his)\b",
        (r"\b%DRUG%\b[^.!?\n]{0,50}\b(?:can'?t\s+keep\s+(?:my|his|her)\s+eyes\s+open|not\s+responding|hard\s+to\s+wake|"
        r"breathing\s+(?:feels\s+)?(?:slow|funny|shallow|strange|weird)|lips\s+(?:are\s+)?(?:turning\s+)?blue|"
        r"floating\s+away|seeing\s+things|heart\s+(?:is\s+)?(?:racing|going\s+really\s+slow|slow))"),
    ), guards="h"),
    # --- Harm to others, abuse or violence now -----------------------------------------------------
    _rule("others_intent_to_harm", _OTHERS, "kill killing murder hurt hurting shoot stab strangle smother poison beat "
          "hit attack run burn choke drown slap punch fist shoot", (
        (r"\b(?:going\s+to|gonna|will|ll|want\s+to|wanna|wants\s+to|plan\s+to|planning\s+to|about\s+to|could|might|'?d|"
        r"would|feel\s+like|thinking\s+(?:about|of)|urge\s+to|picturing)\s+(?:really\s+|just\s+|snap\s+and\s+|"
        r"\w+\s+and\s+)?(?:kill|hurt|murder|shoot|stab|strangle|smother|poison|beat|hit|attack|burn|choke|drown|slap|"
        r"punch)\w*\s+(?:him|her|them|you|people|everyone|everybody|someone|somebody|my\s+(?:\w+\s+)?%RELATIVE%|"
        r"the\s+(?:man|guy|woman|people|kids|boss|teacher|aide|nurse|baby|child|kid)|his\s+%RELATIVE%|"
        r"her\s+%RELATIVE%|\w+\s+at\s+(?:my|the|his|her))\b"),
        r"\b(?:going\s+to|gonna|will|ll|want\s+to|wanna|about\s+to)\s+run\s+(?:him|her|them|\w+)\s+(?:over|down)\b",
        r"\bshoot\s+up\s+(?:the|our|a|my|his|her)\s+(?:school|store|work|office|place|church|mall)\b",
        r"\bbeat\s+\w+\s+(?:\w+\s+)?(?:half\s+)?to\s+death\b",
        r"\bburn\s+(?:the|his|her|their|my)\s+house\s+down\b",
        r"\bput\s+something\s+in\s+(?:[\w']+\s+){0,2}(?:food|drink|coffee|tea)\b",
        r"\bfist\s+clench\w*",
    ), guards="h", unless=r"\b(?:would|will|gonna|going\s+to)\s+(?:kill|murder|shoot|strangle)\s+(?:me|him|her)\s+if\s+"
       r"(?:she|he|they)\s+(?:knew|finds|found|saw|sees|hears|heard)\b|\bkill\s+(?:time|two\s+birds|the\s+(?:lights|"
       r"engine|mood|pain|bacteria|germs|weeds))|\b(?:could|would)\s+(?:kill|murder)\s+(?:for\s+)?(?:a|an|some)\b|"
       r"\bkill\s+(?:him|her|them|me)\s+(?:knowing|to\s+(?:know|see|hear))\b|"
       r"\bshoot\s+(?:him|her|them|me|you)\s+(?:a\s+)?(?:dirty\s+)?(?:looks?|glances?|text|message|email|line|note)\b"),
    _rule("others_threat", _OTHERS, "threaten threatens threatened threatening says said saying yell yelled yelling "
          "yells scream screamed screaming told tells", (
        (r"\b(?:threaten\w*|says|said|saying|yell\w*|scream\w*|told\s+me|tells\s+me|keeps\s+saying)\s+(?:that\s+)?"
        r"(?:if\s+i\s+\w+\s+(?:\w+\s+)?)?(?:%PRON3%|he|she|they|they'?ll|they'?d|hed|shed)\s+(?:is\s+|s\s+|was\s+)?"
        # The verbs' own endings only: "the nurse says he's stable" is not "stab".
        r"(?:going\s+to\s+|gonna\s+|will\s+|would\s+|ll\s+|d\s+|to\s+)?(?:really\s+)?(?:kill(?:s|ed|ing)?|"
        r"hurt(?:s|ing)?|shoot(?:s|ing)?|stab(?:s|bed|bing)?|beat(?:s|en|ing)?|burn(?:s|ed|t|ing)?|hit(?:s|ting)?|"
        r"harm(?:s|ed|ing)?|leave\s+me\s+on|do\s+worse|break(?:s|ing)?)(?:\s+(?:me|us|my|him|her|them))?\b"),
        r"\b(?:do\s+worse|hurt\s+me|kill\s+me|leave\s+me\s+on\s+the\s+floor)\s+if\s+i\s+(?:tell|call|report|say|don'?t)\b",
        r"\bthreatening\s+to\s+(?:kill|hurt|shoot|stab)\b",
        r"\b(?:is|are|keeps|been|s|'s)\s+threatening\s+(?:me|us|my\s+\w+|him|her|them)\b",
    ), guards="h", unless=r"\b(?:would|will)\s+(?:kill|murder|shoot)\s+me\s+if\s+(?:she|he|they)\s+(?:knew|found|saw|"
       r"heard)\b|\bkill\s+me\s+now\b"),
    _rule("others_violence_present", _OTHERS, "hits slaps punches kicks shoves chokes strangles beats attacks smacks "
          "stabs assaults rapes molests abuses hitting slapping punching kicking shoving choking strangling beating "
          "attacking smacking stabbing assaulting abusing hurting", (
        (r"\b(?:hits|slaps|punches|kicks|shoves|chokes|strangles|beats|attacks|smacks|stabs|assaults|rapes|molests|abuses|"
        r"(?:is|are|keeps|kept|been|s|'s|started|starts|keep)\s+(?:hitting|slapping|punching|kicking|shoving|choking|"
        r"strangling|beating|attacking|smacking|stabbing|assaulting|abusing|hurting))\s+(?:me|us|him|her|them|mommy|mummy|"
        r"mom|mum|dad|daddy|grandma|grandpa|my\s+(?:\w+\s+)?%RELATIVE%)\b"),
        (r"\b(?:hitting|slapping|punching|kicking|shoving|choking|strangling|beating|attacking|stabbing)\s+(?:me|him|her|"
        r"my\s+(?:\w+\s+)?%RELATIVE%)\s+(?:right\s+)?now\b"),
    ), guards="h", unless=r"\b(?:it|this|that|which|what|reality|life|depression|anxiety|sadness|loneliness|grief|panic|"
       r"stress|pain|illness|disease|it'?s)\s+(?:really\s+|just\s+|is\s+|'?s\s+|has\s+been\s+|keeps\s+)?(?:hits|hitting|"
       r"beats|beating|attacks|attacking|hurting|kicks|kicking)\b|\bbeat(?:s|ing)?\s+(?:me|him|her)\s+(?:down|up\s+about|"
       r"at|in)\b|\b(?:back|knee|hip|leg|foot|feet|arm|shoulder|neck|head|tooth|teeth|stomach|chest|arthritis|sciatica|"
       r"migraine)\s+(?:is\s+|has\s+been\s+|keeps\s+|really\s+)?hurting\b",
       # "when the shower water hits him he shouts": water, light or cold, not a person.
       not_after=r"\b(?:water|spray|shower|jet|stream|drops?|droplets?|light|sunlight|sun|wind|cold|air|draught|draft|"
       r"noise|sound)\s*['\"]?\s*"),
    _rule("others_violence_recent", _OTHERS, "hit slapped punched kicked shoved choked strangled beat attacked smacked "
          "stabbed assaulted raped molested abused threw grabbed pushed locked", (
        (r"\b(?:hit|slapped|punched|kicked|shoved|choked|strangled|beat|attacked|smacked|stabbed|assaulted|raped|molested|"
        r"abused)\s+(?:me|us|him|her|them|mommy|mom|mum|dad|grandma|grandpa|my\s+(?:\w+\s+)?%RELATIVE%)\b"
        r"(?!\s+(?:up|out|with\s+a\s+(?:text|call|message)|hard|like|that|when|how|from))"),
        r"\b(?:threw|pushed|shoved|kicked)\s+(?:me|him|her|my\s+\w+)\s+(?:against|into|down|on|across|over|off)\b",
        (r"\b(?:has|have|is|keeps|kept|locked)\s+(?:locked\s+)?(?:me|him|her|them|us|my\s+\w+)\s+in\s+(?:my|his|her|the|a|"
        r"their|our)\s+(?:room|bedroom|bathroom|closet|house|basement|cupboard)\b"),
    ), window=True, guards="h", unless=r"^(?![\s\S]*\b%RECENT%\b)"),
    _rule("others_abuse_signs", _OTHERS, "throat neck hair bruise bruised bruises tied give let eye cane belt bat hammer "
          "knife gun pistol stick bottle", (
        r"\bby\s+the\s+(?:throat|neck|hair)\b",
        r"\bso\s+hard\s+(?:they|it|she|he|i)\s+bruise\w*\b",
        r"\btied\s+(?:[\w']+\s+){1,3}to\s+(?:the|his|her|a|my)\s+(?:bed|chair|wheelchair|radiator)\b",
        (r"\b(?:won'?t|refuses\s+to|refused\s+to|not)\s+(?:give|let)\s+me\s+(?:have\s+)?(?:my|any)\s+(?:insulin|meds|"
        r"medication|medicine|pills|food|water|oxygen|inhaler)\b"),
        r"\bblack\s+eye\b[^.!?\n]{0,60}\b(?:aide|carer|caregiver|staff|nurse|he|she|husband|wife|son|daughter|grandson)\b",
        r"\bwith\s+(?:a|his|her|the|my)\s+(?:cane|belt|bat|hammer|knife|gun|pistol|stick|bottle)\s+(?:right\s+)?now\b",
    ), guards="h"),
    _rule("others_danger_now", _OTHERS, "locked hiding trapped barricaded knife knives gun pistol rifle shotgun bat "
          "hammer axe machete weapon crowbar door hurting home here shift coming intruder breaking broke", (
        r"\b(?:there'?s|there\s+is)\s+an\s+intruder\b|\bintruder\s+(?:is\s+)?(?:in|inside)\s+(?:the|my|our)\b",
        (r"\b(?:someone|somebody|a\s+man|a\s+guy|people)\s+(?:is\s+|are\s+|'s\s+)?(?:breaking|trying\s+to\s+break)\s+"
        r"in(?:to\s+(?:the|my|our)\s+(?:house|home|flat|apartment|room))?\b"),
        (r"\b(?:i'?m|im|i\s+am|we'?re|we\s+are)\s+(?:\w+\s+)?(?:locked|hiding|trapped|barricaded)\s+(?:in|inside|under)\s+"
        r"(?:here|the|my|a|our)\s*(?:bathroom|closet|room|bedroom|car|basement|cupboard|wardrobe|attic|house|"
        r"garage)?\b"),
        (r"\b(?:showed\s+up|came|coming|waving|holding|pointing|following|chasing|came\s+at|standing|outside)\b"
        r"[^.!?\n]{0,40}\bwith\s+(?:a|his|her|the)\s+(?:knife|gun|bat|hammer|axe|machete|weapon|pistol|rifle|shotgun|"
        r"crowbar|baseball\s+bat)\b"),
        r"\b(?:knife|gun|pistol|rifle|weapon|hammer|bat)\s+in\s+(?:my|his|her)\s+hand\b",
        (r"\b(?:smash\w*|break\w*|kick\w*|bang\w*|pound\w*)\s+(?:down\s+)?(?:the|my|our)\s+(?:[\w']+\s+)?door\b"
        r"(?![^.!?\n]{0,30}\b(?:frame|hinge|lock\s+is|repair))"),
        r"\b(?:is|are|keeps)\s+hurting\s+(?:mommy|mummy|mom|mum|me|us|my\s+(?:\w+\s+)?%RELATIVE%)\b",
        r"'s\s+hurting\s+(?:mommy|mummy|mom|mum|me|us|my\s+(?:\w+\s+)?%RELATIVE%)\b",
        (r"\b(?:he|she|they)\s+(?:is|s|'s)\s+(?:home|here|in\s+the\s+(?:house|next\s+room)|on\s+shift|coming)\b"
        r"[^.!?\n]{0,30}\b(?:now|tonight|again|tomorrow)\b"),
    ), guards="h", unless=r"\b(?:it|this|that|what|which|everything|life)(?:'s|\s+is|\s+keeps|\s+has\s+been)?\s+"
       r"(?:really\s+)?hurting\b"),
    # --- Medical emergency in progress -------------------------------------------------------------
    _rule("medical_stroke_signs", _MEDICAL, "face droop drooping droopy droops drooped crooked lopsided sagging slurred "
          "slurring slur slurs arm leg hand side smile sense garbled stroke seizure sudden suddenly see speak talk numb "
          "weak", (
        r"\bface\b[^.!?\n]{0,40}\b(?:droop\w*|crooked|lopsided|uneven|sagging|numb|fallen|slack)\b",
        r"\b(?:droop\w*|crooked|lopsided|sagging)\b[^.!?\n]{0,30}\b(?:face|mouth|side|lip|lips|smile)\b",
        r"\b(?:mouth|lip|lips|smile)\b[^.!?\n]{0,20}\b(?:droop\w*|crooked|lopsided)\b",
        r"\bslurr(?:ed|ing)\b|\bslurs\b|\bslur\s+(?:his|her|my)\s+words\b",
        (r"\b(?:can'?t|cannot|can\s+not|couldn'?t|unable\s+to|not\s+able\s+to)\s+(?:smile|lift|raise|move|feel|grip|"
        r"hold\s+up)\s+(?:[\w']+\s+){0,2}(?:left|right|one)\s+(?:arm|leg|side|hand)\b"),
        r"\bone\s+side\s+of\s+(?:his|her|my|the|their)\s+(?:face|body|mouth)\b",
        r"\b(?:can'?t|cannot)\s+smile\s+on\s+one\s+side\b",
        r"\b(?:words|speech|talking|sentences)\b[^.!?\n]{0,20}\b(?:don'?t|doesn'?t|not)\s+(?:make|making)\s+sense\b",
        r"\b(?:isn'?t|is\s+not|not|stopped)\s+making\s+(?:any\s+)?sense\b",
        r"\bgarbled\b",
        r"\b(?:having|had)\s+a\s+stroke\s+(?:right\s+)?now\b",
        (r"\b(?:i\s+think|think)\s+(?:i'?m|he'?s|she'?s|hes|shes|he\s+is|she\s+is|i\s+am|(?:my\s+)?\w+\s+is)\s+having\s+a\s+"
        r"(?:stroke|heart\s+attack|seizure)\b"),
        r"\b(?:is|s|i'?m|am)\s+having\s+a\s+(?:stroke|heart\s+attack|seizure)\b",
        (r"\bsudden(?:ly)?\s+(?:[\w']+\s+){0,3}(?:can'?t|cannot|couldn'?t|unable\s+to)\s+(?:lift|raise|move|speak|talk|"
        r"see|feel|smile|understand|stand|walk|use|grip)\b"),
        r"\bsudden(?:ly)?\s+(?:[\w']+\s+){0,2}(?:weak|numb|confus\w*|blind|paralys\w*|droop\w*|slurr\w*|worst)\b",
        (r"\b(?:can'?t|cannot|couldn'?t)\s+(?:see|speak|talk)\s+(?:properly|anymore|at\s+all|straight|clearly)\b"
        r"[^.!?\n]{0,30}$"),
        (r"\b(?:arm|leg|hand|face)\s+(?:is|went|has\s+gone|going|suddenly)\s+(?:weak|numb|limp|dead)\b[^.!?\n]{0,30}\b"
        r"(?:now|suddenly|just)\b"),
        r"\b(?:numb|weak)\b[^.!?\n]{0,30}\b(?:one\s+side|face\s+is|arm\s+is\s+weak)\b",
    ), guards="hi", unless=r"\b(?:since|after)\s+(?:his|her|my|the)\s+(?:stroke|surgery|injury|accident)\b(?![^.!?\n]{0,30}"
       r"\b(?:now|suddenly|today|just|minutes))|\b(?:one\s+weak\s+arm|a\s+weak\s+arm)\b|\b(?:no|not|without)\s+"
       r"(?:any\s+)?(?:drooping|slurr\w*)\b"),
    _rule("medical_chest_pain", _MEDICAL, "chest heart", (
        (r"\bchest\s+(?:pains?|hurts?|is\s+(?:tight|hurting|crushing|killing)|tight\w*|pressure|crushing|squeezing|"
        r"is\s+on\s+fire)"),
        r"\bheart\s+(?:pains?|hurts)\b",
        r"\b(?:crushing|squeezing|tight\w*|pressure|pains?|heaviness)\s+(?:in|on)\s+(?:my|his|her|the)\s+chest\b",
        r"\bchest\s+(?:is\s+)?(?:tight|hurting|hurts|heavy)\b",
    ), window=True, guards="hi",
       unless=r"^(?![\s\S]*\b(?:breath\w*|sweat\w*|arm|jaw|faint\w*|pass\s+out|passing\s+out|nause\w*|vomit\w*|"
       r"throwing\s+up|dizzy|minutes|hours|since\s+this\s+morning|right\s+now|clammy|racing|pounding|\d{3}|collaps\w*|"
       r"grey|gray|pale|crushing|spreading|radiating|going\s+down|going\s+up|worst|sudden\w*|can'?t)\b)",
       # "since my spinal injury I can't feel angina-type chest pain": a pain that is not felt.
       not_after=r"\b(?:can'?t|cannot|don'?t|doesn'?t|wouldn'?t|won'?t|never|not)\s+feel\s+(?:[\w-]+\s+){0,2}"),
    _rule("medical_breathing", _MEDICAL, "breathe breathing breath gasping gasp gasps gasped struggling fighting lips "
          "lip blue purple grey gray skin choking throat tongue face swelling swollen closing asthma inhaler wheeze "
          "wheezing wheezy", (
        (r"\b(?:can'?t|cannot|can\s+not|unable\s+to|struggling\s+to|barely|not|isn'?t|stopped|stop|no\s+longer|aren'?t|"
        r"won'?t)\s+(?:\w+\s+)?(?:breathe|breathing)\b(?!\s+(?:through\s+(?:my|his|her|the)\s+nose|well\s+at\s+night|"
        r"properly\s+through|exercises?|(?:in|out)\s+(?:that|so|as|hard|deeply|fully|through|enough|far)))"),
        r"\b(?:can'?t|cannot|unable\s+to|struggling\s+to)\s+(?:catch|get)\s+(?:my|his|her|their|a)\s+breath\b",
        (r"\b(?:is|are|s|'s|started|keeps|and)\s+gasping\b|\bgasping\s+(?:and|for)\b|"
        r"\b(?:gasp\w*|struggling|fighting)\s+for\s+(?:air|breath)\b"),
        (r"\blips?\s+(?:are\s+|is\s+|look\s+|looks\s+|going\s+|turning\s+|turned\s+|have\s+gone\s+)?(?:\w+\s+)?(?:blue|purple|"
        r"grey|gray)\b"),
        # Not food or hair: "without it going grey", "my hair is turning grey".
        r"(?<!\bit )(?<!\bhair )(?<!\bhair is )(?<!\bhair has )\b(?:turning|turned|gone|going)\s+(?:blue|purple|grey|gray)\b",
        r"\bskin\s+(?:has\s+)?(?:gone|going|turned|turning|is)\s+(?:grey|gray|blue)\b",
        (r"\b(?:i'?m|im|i\s+am|is|are|s|he'?s|she'?s|started|starts)\s+(?:\w+\s+)?choking\b(?!\s+(?:on\s+(?:thin|his|her|"
        r"liquids|water|food|pills|when|while)|sometimes|at\s+meals))"),
        r"\bchoking\s*(?:$|[.!]|right\s+now|and\s+(?:can'?t|turning))",
        r"\bchoking\b[^.!?\n]{0,40}\b(?:can'?t|cannot|unable\s+to|not\s+able\s+to)\s+(?:talk|speak|breathe|cough)\b",
        r"\b(?:throat|tongue|lips?|face)\s+(?:is\s+|are\s+)?(?:swelling|swollen|closing)\b",
        r"\b(?:swelling|swollen)\s+(?:throat|tongue|lips?)\b",
        r"\b(?:asthma\s+attack|inhaler)\b[^.!?\n]{0,40}\b(?:isn'?t|not|doesn'?t|won'?t)\s+(?:working|helping)\b",
        (r"\bbreathing\s+(?:sounds\s+)?(?:wrong|funny|strange|weird|slow|shallow|really\s+slow|very\s+slow|stopped|"
        r"rattl\w*|noisy)\b|\bbreathing\s+feels\s+(?:really\s+)?slow\b"),
        r"\bwheez\w*\b[^.!?\n]{0,30}\b(?:swollen|swelling|can'?t|lips|sting|allergic|after)\b",
        r"\b(?:swollen|swelling|sting|allergic)\b[^.!?\n]{0,40}\bwheez\w*",
    ), guards="hi", unless=r"\b(?:breathing|breathe)\s+(?:exercises?|techniques?|through\s+(?:my|his|her)\s+nose)\b|"
       r"\bcan\s+breathe\b|\bsleep\s+apn\w*|\bcpap\b|\bchoking\s+(?:hazard|risk)|\bturn(?:ing|ed)?\s+(?:blue|grey|gray)\s+"
       r"(?:in\s+the\s+cold|when\s+cold)|\bfingers?\s+(?:turn|go)\w*\s+(?:blue|white)|\braynaud"),
    _rule("medical_unconscious", _MEDICAL, "unconscious unresponsive responding respond responsive response "
          "consciousness knocked pulse moving wake waking fainted collapsed passed blacked limp floppy pass seizure "
          "seizing convulsing shaking drowsy sleepy talk eyes", (
        (r"\b(?:unconscious|unresponsive|not\s+responding|isn'?t\s+responding|won'?t\s+respond|not\s+responsive|"
        r"stopped\s+responding|lost\s+consciousness|knocked\s+out|no\s+pulse)\b"),
        (r"(?:'s|\bis|\bare)\s+not\s+moving\b(?!\s+(?:much|enough|around|as|her|his|my|forward|on|out|in|to|house|"
        r"home|away|over|back|fast|well))"),
        (r"\b(?:won'?t|can'?t|cannot|couldn'?t|could\s+not|unable\s+to|hard\s+to)\s+(?:\w+\s+)?wak(?:e|ing)\s+"
        r"(?:him|her|them|\w+\s+up)\b"),
        r"\b(?:won'?t|will\s+not|isn'?t|doesn'?t|didn'?t)\s+wake\s+up\b",
        r"\bhard\s+to\s+wake(?:\s+up)?\b",
        r"\b(?:just|suddenly)\s+(?:fainted|collapsed|passed\s+out|blacked\s+out|went\s+limp)\b",
        (r"\b(?:collapsed|passed\s+out|fainted)\b[^.!?\n]{0,40}\b(?:isn'?t|not|won'?t|can'?t)\s+(?:respond\w*|wak\w*|"
        r"breath\w*|mov\w*|talk\w*)"),
        r"\b(?:is|s|and|gone|went|seems|very|all)\s+(?:floppy|limp)\b|\bfloppy\s+and\b",
        r"\b(?:going\s+to|about\s+to|gonna)\s+pass\s+out\b",
        (r"\bseizure\b[^.!?\n]{0,60}\b(?:still|won'?t\s+stop|\d+\s+minutes|(?:two|three|four|five|six|seven|ten)\s+"
        r"minutes|not\s+stopping|isn'?t\s+stopping)\b"),
        r"\b(?:is|s|she'?s|he'?s)\s+(?:having\s+a\s+seizure|seizing|convulsing)\b|\bstill\s+(?:seizing|shaking|convulsing)\b",
        r"\b(?:very|really|so)\s+(?:drowsy|sleepy)\b[^.!?\n]{0,40}\b(?:can'?t|won'?t|hard|not\s+making)",
        r"\b(?:drowsy|sleepy)\s+and\s+(?:hard\s+to\s+wake|can'?t|won'?t|not)\b",
        r"\bcan'?t\s+(?:get|make)\s+(?:him|her|them)\s+to\s+(?:talk|respond|wake|answer)\b",
        r"\b(?:can\s+barely|can'?t)\s+keep\s+(?:my|his|her)\s+eyes\s+open\b[^.!?\n]{0,10}$",
    ), guards="hi", unless=r"\b(?:can'?t|cannot|hard\s+to)\s+wake\s+up\s+(?:in\s+the\s+morning|early|on\s+time|for|before)\b|"
       r"\bnot\s+respond\w*\s+(?:to\s+(?:my\s+)?(?:texts?|messages?|calls?|emails?|treatment|medication|meds|"
       r"antibiotics|therapy)|or\s+if)\b|\bunresponsive\s+(?:during|in|to\s+(?:treatment|medication|therapy))\b|"
       r"\bknocked\s+out\s+of\b", not_after=r"\b(?:i|to|hope\s+i|wish\s+i)"),
    _rule("medical_bleeding", _MEDICAL, "bleed bleeding bleeds bled blood bloody nosebleed nosebleeds spurting gushing "
          "pouring pumping squirting", (
        (r"\b(?:bleed\w*|blood|nosebleed\w*)\b[^.!?\n]{0,40}\b(?:won'?t|will\s+not|doesn'?t|does\s+not|isn'?t|not|can'?t)\s+"
        r"(?:stop\w*|be\s+stopped|slow\w*)\b"),
        r"\b(?:spurting|gushing|pouring|pumping|squirting)\s+(?:out\s+)?blood\b",
        r"\bblood\s+(?:is\s+)?(?:everywhere|spurting|gushing|pouring)\b",
        (r"\b(?:bleeding|bled)\s+(?:\w+\s+)?(?:everywhere|badly|heavily|profusely|a\s+lot|so\s+much|really\s+bad|"
        r"really\s+badly|out|through)\b"),
        r"\b(?:throwing|throw|threw|vomit\w*|coughing|cough\w*|puking|spitting)\s+(?:up\s+)?(?:\w+\s+)?blood\b",
        r"\bblood\s+in\s+(?:his|her|my)\s+(?:vomit|sick)\b",
        r"\blot\s+of\s+blood\b",
    ), guards="hi", unless=r"\bblood\s+(?:test|draw|work|pressure|sugar|thinner)\b(?![^.!?\n]{0,20}\b(?:won'?t\s+stop|"
       r"everywhere))"),
    _rule("medical_head_injury", _MEDICAL, "head", (
        (r"\b(?:hit|hitting|banged|bumped|struck|smacked|cracked)\s+(?:his|her|my|their)\s+head\b[\s\S]{0,160}?\b"
        r"(?:confus\w*|sleepy|drowsy|vomit\w*|throwing\s+up|threw\s+up|unconscious|won'?t\s+wake|not\s+making\s+sense|"
        r"doesn'?t\s+know|asking\s+the\s+same|slurr\w*|blood\s+thinners?|bleeding|passed\s+out|knocked\s+out|dizzy|"
        r"can'?t\s+remember|keeps\s+asking)\b"),
    ), window=True, guards="hi"),
    _rule("medical_other_signs", _MEDICAL, "worst thunderclap pressure sugar glucose meter bg rate fell fallen collapsed "
          "below numb dying sweaty sweating shaking weak drowsy sleepy dizzy anaphylaxis anaphylactic symptoms fitting fit bleeding lips", (
        r"\bworst\s+headache\b|\bthunderclap\b",
        r"\bblood\s+pressure\s+(?:is\s+|of\s+|at\s+|reading\s+)?(?:2\d\d|19\d|18\d)\s*(?:over|/)",
        (r"\b(?:blood\s+sugar|glucose|sugar|meter|bg)\b[^.!?\n]{0,30}\b(?:says|is|reads|at|of|reading)\s+"
        r"(?:[1-3]\d|[5-9]\d\d)\b[^.!?\n]{0,40}\b(?:won'?t|can'?t|not|confus\w*|shaking|sweat\w*)"),
        r"\bheart\s+rate\s+(?:is\s+|of\s+|at\s+)?(?:1[6-9]\d|2\d\d|[23]\d)\b",
        (r"\b(?:fell|fallen|collapsed)\b[^.!?\n]{0,50}\b(?:can'?t|cannot|couldn'?t)\s+(?:move|feel)\s+(?:my|his|her)\s+"
        r"(?:legs|arms|body|neck)\b"),
        r"\bcan'?t\s+feel\s+anything\s+below\b",
        r"\b(?:legs|arms)\s+went\s+numb\b",
        r"\b(?:i|he|she)\s+think\s+(?:i'?m|he'?s|she'?s)\s+dying\b|\bi\s+think\s+(?:i'?m|im)\s+dying\b",
        r"\bfeel\s+like\s+(?:i'?m|im)\s+dying\b(?![^.!?\n]{0,20}\binside\b)",
        r"\b(?:sweaty|sweating|shaking|weak|drowsy|sleepy|dizzy)\s+and\s+(?:very\s+)?(?:confused|not\s+making\s+sense)\b",
        r"\b(?:sweaty|sweating|shaking)\b[^.!?\n]{0,30}\b(?:confused|not\s+making\s+sense)\b",
        r"\banaphyla\w*",
        r"\b(?:is|s|'s|am|i'?m)\s+having\s+(?:heart\s+attack|stroke)\s+symptoms\b",
        r"\b(?:is|s|'s)\s+(?:fitting|having\s+a\s+fit)\b",
        r"\b(?:heavy|severe|massive|uncontrolled|profuse)\s+bleeding\b",
        r"\b(?:blue|grey|gray|purple)\s+lips\b",
    ), guards="hi"),
)


def rule_names() -> tuple[str, ...]:
    """The names of every rule, in the order they are tried (for audit and documentation)."""
    return tuple(rule.name for rule in RULES)


_RULE_INDEX_BY_WORD: dict[str, frozenset[int]] = {}
for _index, _rule_entry in enumerate(RULES):
    for _word in _rule_entry.anchors:
        _RULE_INDEX_BY_WORD[_word] = _RULE_INDEX_BY_WORD.get(_word, frozenset()) | {_index}
_STEMS: tuple[tuple[str, int], ...] = tuple((stem, index) for index, rule in enumerate(RULES) for stem in rule.stems)
_STEM_PREFIXES = tuple(stem for stem, _ in _STEMS)
del _index, _rule_entry, _word

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NO_RULES: frozenset[int] = frozenset()
#: Word -> rules anchored on it, filled as words are met; cleared when full so memory stays bounded.
_WORD_CACHE: dict[str, frozenset[int]] = {}
_WORD_CACHE_SIZE = 100_000


def _rules_of_word(word: str) -> frozenset[int]:
    """The rules anchored on ``word``: exact anchors, and stems that begin it."""
    found = _WORD_CACHE.get(word)
    if found is None:
        found = _RULE_INDEX_BY_WORD.get(word, _NO_RULES)
        if word.startswith(_STEM_PREFIXES):
            found = found | {index for stem, index in _STEMS if word.startswith(stem)}
        if len(_WORD_CACHE) >= _WORD_CACHE_SIZE:
            _WORD_CACHE.clear()
        _WORD_CACHE[word] = found
    return found


# --- Guards ----------------------------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(r"\s*(?:;|:|,?\s+but\s+|,?\s+however\s+|,?\s+although\s+|,?\s+though\s+|\s+-\s+)\s*")
_QUESTION_START = re.compile(
    r"^\s*(?:so\s+|and\s+|also\s+|quick\s+question\W{0,2}|honest\s+question\W{0,2})?(?:what|whats|what'?s|how|why|which|"
    r"who|when|where|is|are|does|do|can|could|should|would|will|at\s+what|in\s+what)\b(?!'?t\b|\s+not\b)"
)
_FIRST_PERSON = re.compile(r"\b(?:i|i'?m|im|i'?ve|ive|i'?d|i'?ll|me|my|myself|mine)\b")
# "Is it normal to want to ..." asks about the writer, whatever its grammar.
_PERSONAL_QUESTION = re.compile(
    r"\b(?:normal|ok|okay|bad|wrong|weird|common|selfish|crazy|possible)\s+(?:at\s+\d+\s+)?to\s+(?:feel|want|think|have|"
    r"be|keep)\b"
)
_ACADEMIC = re.compile(
    r"\b(?:for\s+(?:a|my|our)\s+(?:class|course|paper|essay|project|thesis|novel|story|exam|assignment)|pharmacology|"
    r"toxicology|textbook|nursing\s+school|research|statistics|study\s+(?:on|of|about)|(?:a|the)\s+study|studies|"
    r"an?\s+article\s+(?:on|about|saying))\b"
)
_HISTORY = re.compile(
    r"\b(?:(?:\d+|a\s+few|a\s+couple\s+(?:of\s+)?|several|many|two|three|four|five|six|seven|eight|nine|ten|twenty|"
    r"thirty|forty|fifty|some)\s+years?\s+(?:ago|back|earlier|before)|years\s+ago|decades?\s+ago|last\s+year|"
    r"in\s+(?:19|20)\d\d|since\s+(?:19|20)\d\d|back\s+in|(?:in|during)\s+(?:my|his|her)\s+(?:teens|twenties|thirties|"
    r"forties|fifties|sixties|youth|childhood|20s|30s|40s|50s)|"
    r"when\s+(?:i|he|she|they)\s+(?:was|were)\s+(?:a\s+(?:kid|child|teen|teenager|student)|young|younger|little|"
    r"in\s+(?:high\s+school|college|university|school|my|his|her)|\d+|caring\s+for|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)|"
    r"as\s+a\s+(?:kid|child|teen|teenager|young\s+\w+)|in\s+(?:high\s+school|college|university|my\s+teens)|"
    r"long\s+ago|a\s+long\s+time\s+ago|(?:years|decades)\s+(?:clean|sober|free)|"
    r"(?:have|has|had)\s+been\s+(?:well|fine|okay|ok|stable|clean|sober|free|better)\s+(?:ever\s+)?since|"
    r"(?:she'?s|he'?s|i'?m|im|is|was|are|were)\s+(?:fine|ok|okay|alright|better|stable|doing\s+(?:well|better|fine|ok))"
    r"\s+now|(?:fine|ok|okay)\s+after|got\s+help|(?:now\s+)?(?:i'?m|im)\s+(?:flourishing|in\s+recovery|recovered)|"
    r"used\s+to|at\s+christmas|last\s+(?:spring|summer|fall|autumn|winter)|anniversary|in\s+the\s+past|"
    r"survived\s+a|survivor)\b"
)
# Danger told in the present beats a history marker in the same clause.
_PRESENT_DANGER = re.compile(
    r"\b(?:relaps\w*|(?<!happening )(?<!happen )(?<!happens )again|still\s+(?:do|does|want|wants|cut|cutting|hurt|"
    r"think|thinking|feel\s+like|have\s+(?:urges|thoughts))|tonight|today|right\s+now|now\s+i|this\s+(?:week|morning|"
    r"evening|afternoon)|yesterday|last\s+(?:night|week)|lately|currently|these\s+days|anymore|want\s+to|wanna|"
    r"going\s+to|gonna|planning)\b"
)


def _clause_at(text: str, position: int) -> str:
    start = 0
    for brk in _CLAUSE_BREAK.finditer(text):
        if brk.start() > position:
            return text[start : brk.start()]
        start = brk.end()
    return text[start:]


def _is_informational(clause: str, sentence: str) -> bool:
    """A general question (no "I", "my", "me") or an academic one: not a disclosure."""
    if _ACADEMIC.search(clause):
        return True
    question = bool(_QUESTION_START.search(clause)) or sentence.rstrip().endswith("?")
    return question and not _FIRST_PERSON.search(clause) and not _PERSONAL_QUESTION.search(clause)


def _is_history(clause: str) -> bool:
    """Told as resolved history, with no present danger in the same clause."""
    return bool(_HISTORY.search(clause)) and not _PRESENT_DANGER.search(clause)


def _guarded(rule: _Rule, match: re.Match[str], text: str) -> bool:
    if rule.not_after is not None and rule.not_after.search(text, max(match.start() - 30, 0), match.start()):
        return True
    clause = _clause_at(text, match.start())
    if rule.unless is not None and rule.unless.search(text if rule.window else clause):
        return True
    if GUARD_HISTORY in rule.guards and _is_history(clause):
        return True
    if GUARD_INFORMATIONAL in rule.guards and _is_informational(clause, text):
        return True
    return GUARD_ACADEMIC in rule.guards and bool(_ACADEMIC.search(clause))


# --- Detection -------------------------------------------------------------------------------------

#: A sentence longer than this is read in overlapping pieces, so text without punctuation costs no
#: more than text with it; the overlap is longer than the reach of any pattern.
_MAX_SENTENCE = 600
#: A window rule reads this many sentences on each side of the one with its anchor.
_WINDOW = 2
_OVERLAP = 200
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?\n]+|$)")


def _sentences(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        while end - start > _MAX_SENTENCE:
            spans.append((start, start + _MAX_SENTENCE))
            start += _MAX_SENTENCE - _OVERLAP
        spans.append((start, end))
    return spans


def _first_hit(rules: list[_Rule], sentence: str, window: str) -> RuleHit | None:
    for rule in rules:
        text = window if rule.window else sentence
        match = rule.pattern.search(text)
        while match is not None:
            if not _guarded(rule, match, text):
                return RuleHit(kind=rule.kind, rule=rule.name)
            match = rule.pattern.search(text, match.start() + 1)
    return None


class _Remembered:
    """The rule layer's verdicts on recent messages, keyed by a digest of the text (never the text).

    The service checks a message before its cache lookup and the assistant checks it again on a
    miss; a repeated message (a cache hit) is checked once per ``size`` distinct messages.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.verdicts: OrderedDict[bytes, RuleHit | None] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, text: str) -> RuleHit | None:
        if not isinstance(text, str):
            raise TypeError(f"detect_rules expects a str, got {type(text).__name__}")
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self.lock:
            if digest in self.verdicts:
                self.verdicts.move_to_end(digest)
                return self.verdicts[digest]
        verdict = _detect(text, exhaustive=False)
        with self.lock:
            self.verdicts[digest] = verdict
            if len(self.verdicts) > self.size:
                self.verdicts.popitem(last=False)
        return verdict


_remembered = _Remembered(size=65_536)


def detect_rules(text: str) -> RuleHit | None:
    """The first crisis rule that fires on ``text``, or None; every sentence is checked, however long."""
    return _remembered(text)


def _detect(text: str, *, exhaustive: bool) -> RuleHit | None:
    """``exhaustive`` runs every rule on every sentence: the tests use it to prove the anchors lose nothing."""
    if not isinstance(text, str):
        raise TypeError(f"detect_rules expects a str, got {type(text).__name__}")
    normalised = normalise_for_rules(text)
    if not normalised:
        return None
    spans = _sentences(normalised)
    seen: set[tuple[str, str, frozenset[int]]] = set()
    for index, (start, end) in enumerate(spans):
        sentence = normalised[start:end]
        selected: set[int] = set(range(len(RULES))) if exhaustive else set()
        if not exhaustive:
            for word in set(_TOKEN.findall(sentence)):
                selected.update(_rules_of_word(word))
            if not selected:
                continue
        rules = [RULES[i] for i in sorted(selected)]
        window = sentence
        if any(rule.window for rule in rules):
            window = normalised[spans[max(index - _WINDOW, 0)][0] : spans[min(index + _WINDOW, len(spans) - 1)][1]]
        # Repeated text (a pasted log, a long copy) is read once.
        key = (sentence, window, frozenset(selected))
        if key in seen:
            continue
        seen.add(key)
        hit = _first_hit(rules, sentence, window)
        if hit is not None:
            return hit
    return None

