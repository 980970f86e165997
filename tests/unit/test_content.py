"""The reviewed answer content (careassist/content/answers.yaml) and how one answer is chosen for a message."""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from careassist.content import (
    MAX_SAFETY,
    MAX_STEPS,
    MIN_STEPS,
    AnswerTemplate,
    ContentBase,
    ContentError,
    load_content,
    normalise_for_matching,
    required_literals,
)
from careassist.taxonomy import CATEGORIES, GENERAL_KIND, OUT_OF_SCOPE

pytestmark = pytest.mark.unit

# Advice that must never be given unless the same sentence sends the person to the prescriber or pharmacist.
UNSAFE_MEDICATION_ADVICE = re.compile(
    r"\b(stop(ping)? (taking|your|the|his|her|a|this|that|it)\b"
    r"|double (the|your|a|up|it)\b"
    r"|skip(ping)? (a|the|your|it|doses?)\b"
    r"|take (two|2|an extra|extra|more) (doses|pills|tablets)\b"
    r"|(cut|change|lower|raise|increase|decrease) (the|your) dose)",
    re.IGNORECASE,
)
PRESCRIBER = re.compile(r"\b(prescriber|pharmacist|doctor)\b", re.IGNORECASE)
DOSING_NUMBER = re.compile(r"\b\d+(\.\d+)?\s?(mg|mcg|milligrams?|units?|ml|tablets?|pills?|capsules?)\b", re.IGNORECASE)
# The response builder adds these from one place; the content must not carry its own copy.
DISCLAIMER_OR_CRISIS_BLOCK = re.compile(
    r"not (a substitute|medical advice)|disclaimer|general information only|988lifeline|suicide (&|and) crisis lifeline",
    re.IGNORECASE,
)
PROFESSIONAL = re.compile(
    r"\b(doctor|nurse|pharmacist|prescriber|therapist|counselor|dentist|audiologist|podiatrist|specialist|social worker"
    r"|care team|cancer team|hospice team|cardiologist|nephrologist|rheumatologist|dietitian|911|dispatcher|poison control|attorney)\b",
    re.IGNORECASE,
)
DIAGNOSING = re.compile(
    r"\b(you|he|she) (probably |may |might |clearly )?(have|has|are suffering from) "
    r"(depression|dementia|ptsd|an? (mental illness|\w+ disorder))\b|\byou are (clinically )?depressed\b|\bdiagnos",
    re.IGNORECASE,
)

NAMED_SITUATIONS = (
    "adl_mobility.bed_mobility",
    "medication_management.reminders",
    "caregiver_support.burnout",
    "caregiver_support.respite",
    "mental_health.low_mood",
    "mental_health.anxiety",
    "mental_health.loneliness",
    "mental_health.grief",
    "disabilities.adaptive_equipment",
    "disabilities.mobility_devices",
)
CRISIS_ANSWERS = (
    "crisis.suicidal_thoughts",
    "crisis.someone_else_in_danger",
    "crisis.overdose_or_poisoning",
    "crisis.medical_emergency",
    "crisis.harm_or_abuse",
    "crisis.self_harm",
)

# One or more messages per override, written for these tests (not taken from the corpus).
SELECTION_EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("adl_mobility", "how do I help my dad sit up in bed", "adl_mobility.bed_mobility"),
    ("adl_mobility", "what's the safest way to roll my wife onto her side in bed", "adl_mobility.bed_mobility"),
    ("adl_mobility", "Moving my husband from his wheelchair to the toilet is getting hard", "adl_mobility.transfers"),
    (
        "adl_mobility",
        "my mother slipped in the hallway and I could not get her up off the floor",
        "adl_mobility.up_from_floor",
    ),
    ("adl_mobility", "tips for pushing a manual wheelchair up a ramp", "adl_mobility.wheelchair_skills"),
    ("adl_mobility", "my knees hurt going down the stairs, which leg goes first", "adl_mobility.stairs"),
    ("adl_mobility", "how can grandpa get up out of his armchair without me pulling him", "adl_mobility.sit_to_stand"),
    ("adl_mobility", "do I move my cane with my bad leg or my good leg when walking", "adl_mobility.walking_aids"),
    ("adl_self_care", "my father refuses to shower and gets angry when I bring it up", "adl_self_care.bathing_refusal"),
    ("adl_self_care", "my aunt has bladder leaks at night, which pads are best", "adl_self_care.incontinence"),
    ("adl_self_care", "how do I clean my husband's dentures properly", "adl_self_care.oral_care"),
    (
        "adl_self_care",
        "there is a red spot on her tailbone that does not go away",
        "adl_self_care.skin_and_pressure_sores",
    ),
    ("adl_self_care", "mom coughs when she drinks thin liquids at meals", "adl_self_care.eating_and_feeding"),
    ("adl_self_care", "easiest way to put a shirt on someone with a weak left arm", "adl_self_care.dressing"),
    ("adl_self_care", "how can I trim my father's fingernails safely", "adl_self_care.grooming"),
    ("adl_self_care", "how do I give a sponge bath to someone who cannot get out of bed", "adl_self_care.bathing"),
    ("medication_management", "what's a good pill organizer for my grandmother", "medication_management.reminders"),
    (
        "medication_management",
        "I missed my evening dose of blood pressure pills, what now",
        "medication_management.missed_dose",
    ),
    (
        "medication_management",
        "can I just stop my antidepressant now that I feel better",
        "medication_management.stopping_or_tapering",
    ),
    (
        "medication_management",
        "should I take my thyroid pill before or after breakfast",
        "medication_management.timing",
    ),
    (
        "medication_management",
        "is it safe to take ibuprofen with my blood thinner",
        "medication_management.interactions",
    ),
    (
        "medication_management",
        "my mother can't swallow big tablets, can I crush them",
        "medication_management.taking_and_giving",
    ),
    (
        "medication_management",
        "my insurance stopped covering my inhaler and the refill costs too much",
        "medication_management.refills_and_costs",
    ),
    (
        "medication_management",
        "since starting the new pill my mom feels dizzy all day",
        "medication_management.side_effects",
    ),
    (
        "medication_management",
        "my father takes 14 medications from four different doctors",
        "medication_management.medication_review",
    ),
    ("mental_health", "it's been six months since my wife passed and I still cry every day", "mental_health.grief"),
    ("mental_health", "my husband still has nightmares about the war", "mental_health.trauma"),
    ("mental_health", "how do I find a therapist who takes Medicare", "mental_health.finding_therapy"),
    ("mental_health", "I've felt down and hopeless for weeks", "mental_health.low_mood"),
    ("mental_health", "since moving to the city my mom feels so lonely", "mental_health.loneliness"),
    ("mental_health", "I get panic attacks in crowded stores", "mental_health.anxiety"),
    ("crisis", "I don't want to be alive anymore", "crisis.suicidal_thoughts"),
    ("crisis", "my brother just told me he is going to kill himself tonight", "crisis.someone_else_in_danger"),
    ("crisis", "my grandmother took all of her sleeping pills", "crisis.overdose_or_poisoning"),
    ("crisis", "my husband's face is drooping and he can't talk properly", "crisis.medical_emergency"),
    ("crisis", "my son-in-law keeps hitting my mother and she is scared of him", "crisis.harm_or_abuse"),
    ("crisis", "I cut myself again last night", "crisis.self_harm"),
    ("caregiver_support", "where can I find respite care for a weekend", "caregiver_support.respite"),
    ("caregiver_support", "how do families pay for a home health aide", "caregiver_support.paying_for_care"),
    (
        "caregiver_support",
        "my boss won't let me leave early to take dad to dialysis",
        "caregiver_support.work_and_caregiving",
    ),
    ("caregiver_support", "my siblings never help with mom and we keep arguing", "caregiver_support.family_conflict"),
    ("caregiver_support", "I feel guilty every time I get frustrated with my husband", "caregiver_support.guilt"),
    ("caregiver_support", "I'm completely exhausted from looking after my wife", "caregiver_support.burnout"),
    ("senior_care", "my father with dementia wanders out of the house at night", "senior_care.wandering"),
    ("senior_care", "how do we set up a living will for my mom", "senior_care.end_of_life_planning"),
    ("senior_care", "every evening my wife gets agitated and confused", "senior_care.sundowning"),
    ("senior_care", "my grandmother can't hear the TV anymore", "senior_care.hearing_and_vision"),
    ("senior_care", "how do we choose a good memory care facility", "senior_care.care_settings"),
    ("senior_care", "my mother keeps accusing the aide of stealing her jewelry", "senior_care.dementia_behaviour"),
    ("senior_care", "what are the stages of Alzheimer's", "senior_care.dementia_progression"),
    ("senior_care", "is forgetting appointments a sign of dementia", "senior_care.memory_concerns"),
    ("fall_prevention", "how can my dad walk safely on icy sidewalks", "fall_prevention.outdoors_and_winter"),
    (
        "fall_prevention",
        "which fall alert pendant works best for someone living alone",
        "fall_prevention.medical_alert",
    ),
    ("fall_prevention", "could her new sleeping pill make her fall", "fall_prevention.medicines_and_falls"),
    ("fall_prevention", "I feel lightheaded when I get up too fast", "fall_prevention.dizziness_on_standing"),
    ("fall_prevention", "my mother fell last week, how do we stop it happening again", "fall_prevention.after_a_fall"),
    ("fall_prevention", "what balance exercises can an 80 year old do", "fall_prevention.balance_and_strength"),
    ("fall_prevention", "what lights help grandma get to the bathroom at night", "fall_prevention.night_safety"),
    ("fall_prevention", "where should we put grab bars by the toilet", "fall_prevention.bathroom_safety"),
    ("fall_prevention", "what can I change at home so grandpa doesn't fall", "fall_prevention.home_safety_checklist"),
    ("disabilities", "how does my son apply for SSI", "disabilities.benefits_and_services"),
    ("disabilities", "will Medicare pay for a wheelchair", "disabilities.paying_for_equipment"),
    ("disabilities", "my employer refuses to give me an accessible desk", "disabilities.rights_and_accommodations"),
    ("disabilities", "how long should a wheelchair ramp be for two steps", "disabilities.home_access"),
    (
        "disabilities",
        "what phones work for someone who is hard of hearing",
        "disabilities.sensory_and_communication_aids",
    ),
    (
        "disabilities",
        "what's the difference between a hoyer lift and a sit-to-stand lift",
        "disabilities.beds_and_lifts",
    ),
    ("disabilities", "which walker is best after a stroke", "disabilities.mobility_devices"),
    ("disabilities", "where can I get a shower chair", "disabilities.adaptive_equipment"),
    (
        "chronic_conditions",
        "my feet are numb from diabetes, what should I do",
        "chronic_conditions.diabetes_daily_care",
    ),
    ("chronic_conditions", "my blood sugar is always high in the morning", "chronic_conditions.blood_sugar"),
    (
        "chronic_conditions",
        "my mom is starting chemo next week, what should we expect",
        "chronic_conditions.cancer_care",
    ),
    ("chronic_conditions", "my blood pressure is 150 over 95 at home", "chronic_conditions.blood_pressure"),
    ("chronic_conditions", "my dad has heart failure and gets tired easily", "chronic_conditions.heart_conditions"),
    (
        "chronic_conditions",
        "my husband with COPD gets out of breath walking to the car",
        "chronic_conditions.copd_and_breathing",
    ),
    ("chronic_conditions", "what does stage 3 kidney disease mean", "chronic_conditions.kidney_disease"),
    (
        "chronic_conditions",
        "arthritis in my hands makes opening jars hard",
        "chronic_conditions.arthritis_and_joint_pain",
    ),
    ("chronic_conditions", "I've had back pain for years, what else can I try", "chronic_conditions.chronic_pain"),
    ("chronic_conditions", "what does a high TSH level mean on my lab results", "chronic_conditions.tests_and_results"),
    ("nutrition_wellness", "I can't sleep at night", "nutrition_wellness.insomnia"),
    ("nutrition_wellness", "how much water should an 85 year old drink", "nutrition_wellness.hydration"),
    ("nutrition_wellness", "my grandpa has no appetite and is losing weight", "nutrition_wellness.poor_appetite"),
    ("nutrition_wellness", "how can I lose weight safely at 70", "nutrition_wellness.weight"),
    ("nutrition_wellness", "what exercise is safe with bad knees", "nutrition_wellness.staying_active"),
    ("nutrition_wellness", "what should an 80 year old eat for breakfast", "nutrition_wellness.healthy_eating"),
)

# Messages that name no specific situation of their category, so its generic answer is the right one.
GENERIC_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("adl_mobility", "any general advice about my mother's mobility"),
    ("adl_self_care", "what help is there with personal care"),
    ("medication_management", "I have a question about my prescription"),
    ("mental_health", "how can I look after my emotional health"),
    ("crisis", "please help me right now"),
    ("caregiver_support", "I look after my mother, any advice"),
    ("senior_care", "my grandfather is getting older, what should we think about"),
    ("fall_prevention", "general fall prevention advice"),
    ("disabilities", "where do I start after becoming disabled"),
    ("chronic_conditions", "how do I live well with a long-term illness"),
    ("nutrition_wellness", "how can I stay healthy at 75"),
)


@pytest.fixture(scope="module")
def content() -> ContentBase:
    return load_content()


def _texts(answer: AnswerTemplate) -> tuple[str, ...]:
    return (
        answer.title,
        *answer.steps,
        *answer.safety,
        answer.provider_guidance,
        *(n for pair in answer.resources for n in pair),
    )


def _unsafe_items(answer: AnswerTemplate) -> list[str]:
    """Sentences that advise stopping, skipping, doubling or changing a medicine without the prescriber or pharmacist."""
    return [t for t in _texts(answer) if UNSAFE_MEDICATION_ADVICE.search(t) and not PRESCRIBER.search(t)]


# -- the packaged content meets the bar -------------------------------------------------------
def test_every_category_has_a_generic_answer_and_at_least_two_overrides(content: ContentBase) -> None:
    for category in CATEGORIES:
        assert content.generic[category].category == category
        assert len(content.ranked[category]) >= 2, category
    assert {o.category for o in content.overrides()} == set(CATEGORIES)


def test_the_named_situations_and_every_kind_of_crisis_have_their_own_answer(content: ContentBase) -> None:
    ids = {o.id for o in content.overrides()}
    assert set(NAMED_SITUATIONS) <= ids
    assert set(CRISIS_ANSWERS) <= ids


def test_bed_mobility_answer_is_practical(content: ContentBase) -> None:
    answer = content.select("adl_mobility", "how do I help my dad sit up in bed")
    text = " ".join(answer.steps + answer.safety).lower()
    for must in ("bend both knees", "roll", "edge of the bed", "push up", "for a minute", "transfer pole", "back"):
        assert must in text, must


@pytest.mark.parametrize(
    ("answer_id", "musts"),
    [
        ("crisis.overdose_or_poisoning", ("911", "1-800-222-1222")),
        ("crisis.medical_emergency", ("911",)),
        ("crisis.harm_or_abuse", ("911", "adult protective services", "eldercare locator")),
        ("crisis.suicidal_thoughts", ("988",)),
        ("crisis.someone_else_in_danger", ("911", "988")),
    ],
)
def test_crisis_answers_name_where_to_get_help(content: ContentBase, answer_id: str, musts: tuple[str, ...]) -> None:
    answer = next(o.answer for o in content.overrides() if o.id == answer_id)
    text = " ".join(_texts(answer)).lower()
    for must in musts:
        assert must in text, must


def test_medical_emergency_and_overdose_say_call_911_first(content: ContentBase) -> None:
    for answer_id in ("crisis.medical_emergency", "crisis.overdose_or_poisoning"):
        answer = next(o.answer for o in content.overrides() if o.id == answer_id)
        assert "911" in answer.steps[0], answer_id


def test_crisis_answers_are_short_direct_and_never_diagnose(content: ContentBase) -> None:
    crisis = [o.answer for o in content.ranked["crisis"]] + [content.generic["crisis"]]
    for answer in crisis:
        assert len(answer.steps) <= 5, answer.id
        for step in answer.steps:
            assert len(step.split()) <= 30, (answer.id, step)
        assert not any(DIAGNOSING.search(t) for t in _texts(answer)), answer.id
    assert DIAGNOSING.search("It sounds like you have depression.")
    assert not DIAGNOSING.search("If you have naloxone, give it.")


def test_every_answer_has_the_required_shape(content: ContentBase) -> None:
    for answer in content.templates():
        assert MIN_STEPS <= len(answer.steps) <= MAX_STEPS, answer.id
        assert 1 <= len(answer.safety) <= MAX_SAFETY, answer.id
        assert not any(re.match(r"\s*\d", step) for step in answer.steps), answer.id
        assert PROFESSIONAL.search(answer.provider_guidance), (answer.id, answer.provider_guidance)


def test_no_answer_advises_changing_a_medicine_without_the_prescriber(content: ContentBase) -> None:
    for answer in content.templates():
        assert _unsafe_items(answer) == [], answer.id
        assert not any(DOSING_NUMBER.search(t) for t in _texts(answer)), answer.id


def test_the_unsafe_advice_check_catches_what_it_is_meant_to() -> None:
    bad = AnswerTemplate(
        "x.bad", "adl_mobility", "t", ("Skip a dose if you feel dizzy.", "b", "c"), ("s",), "Call the doctor."
    )
    paired = AnswerTemplate(
        "x.ok", "adl_mobility", "t", ("Do not skip a dose unless your pharmacist says so.", "b", "c"), ("s",), "Call."
    )
    assert _unsafe_items(bad) == ["Skip a dose if you feel dizzy."]
    assert _unsafe_items(paired) == []
    assert DOSING_NUMBER.search("take 500 mg twice a day")


def test_no_answer_carries_a_disclaimer_or_the_crisis_block(content: ContentBase) -> None:
    for answer in content.templates():
        assert not any(DISCLAIMER_OR_CRISIS_BLOCK.search(t) for t in _texts(answer)), answer.id
    assert DISCLAIMER_OR_CRISIS_BLOCK.search("This is general information only, not medical advice.")


def test_out_of_scope_answer_is_honest_and_still_points_to_help(content: ContentBase) -> None:
    answer = content.out_of_scope()
    text = " ".join(_texts(answer)).lower()
    assert answer.category == OUT_OF_SCOPE
    assert "outside" in text
    for must in ("211", "library", "area agency on aging", "988", "911"):
        assert must in text, must
    assert content.select(OUT_OF_SCOPE, "who won the football game") is answer


def test_fallback_answer_is_general_and_sends_to_a_professional(content: ContentBase) -> None:
    answer = content.fallback()
    assert answer.category == "fallback"
    assert PROFESSIONAL.search(answer.provider_guidance)
    assert answer.id not in {o.id for o in content.overrides()}


# -- selection ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("category", "text", "expected"), SELECTION_EXAMPLES)
def test_select_picks_the_specific_answer(content: ContentBase, category: str, text: str, expected: str) -> None:
    assert content.select(category, text).id == expected


def test_every_override_has_a_selection_example(content: ContentBase) -> None:
    assert {o.id for o in content.overrides()} == {expected for _, _, expected in SELECTION_EXAMPLES}


@pytest.mark.parametrize(("category", "text"), GENERIC_EXAMPLES)
def test_select_falls_back_to_the_generic_answer(content: ContentBase, category: str, text: str) -> None:
    assert content.select(category, text) is content.generic[category]


def test_select_normalises_case_and_whitespace(content: ContentBase) -> None:
    assert (
        content.select("adl_mobility", "HOW do I help my Dad\n\n  SIT   UP\tin BED?").id == "adl_mobility.bed_mobility"
    )
    assert normalise_for_matching("  A\u00a0B\n\nC ") == "a b c"


def test_select_rejects_an_unknown_category(content: ContentBase) -> None:
    with pytest.raises(ValueError, match="unknown category 'tax_help'"):
        content.select("tax_help", "anything")


def test_the_literal_prefilter_never_changes_the_choice(content: ContentBase) -> None:
    """select (which skips overrides whose required strings are absent) equals trying every override in order."""
    from careassist.corpus import load_seed_corpus

    def exhaustive(category: str, text: str) -> AnswerTemplate:
        normalised = normalise_for_matching(text)
        for override in content.ranked[category]:
            if override.regex.search(normalised):
                return override.answer
        return content.generic[category]

    corpus = load_seed_corpus()
    words = sorted({w for t in corpus["text"] for w in normalise_for_matching(t).split()})
    rng = random.Random(7)
    messages = list(corpus["text"]) + [" ".join(rng.choices(words, k=rng.randint(1, 25))) for _ in range(3000)]
    for text in messages:
        for category in (rng.choice(CATEGORIES), "crisis"):
            assert content.select(category, text) is exhaustive(category, text), (category, text)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bsit(s|ting)? up\b", frozenset({"sit"})),
        (r"\b(shower|bath) chair", frozenset({" chair"})),
        (r"\b(cane|walker)s?\b", frozenset({"cane", "walker"})),
        (r"\bwheel ?ch\w*", frozenset({"wheel"})),
        (r"(a|)x", frozenset({"x"})),
        (r"(?i)walker", None),  # any case could match
        (r"\w+", None),
        (r"(?!stop)\w+ing", frozenset({"ing"})),
    ],
)
def test_required_literals(pattern: str, expected: frozenset[str] | None) -> None:
    assert required_literals(pattern) == expected


# -- coverage on the seed corpus ----------------------------------------------------------------
def _override_shares(content: ContentBase, held_out_only: bool) -> dict[str, float]:
    from careassist.corpus import load_seed_corpus
    from careassist.ingest import normalise_text, text_key
    from careassist.splits import assign_splits

    corpus = load_seed_corpus()
    corpus["text"] = normalise_text(corpus["text"])
    corpus["split"] = assign_splits(text_key(corpus["text"]))
    if held_out_only:  # the patterns were tuned on the train split only
        corpus = corpus[corpus["split"] != "train"]
    shares = {}
    for category in CATEGORIES:
        # The crisis label has no general messages: all of its messages are crisis kinds.
        rows = corpus[(corpus["label"] == category) & ((corpus["kind"] == GENERAL_KIND) | (category == "crisis"))]
        specific = [content.select(category, t) is not content.generic[category] for t in rows["text"]]
        shares[category] = sum(specific) / len(specific)
    return shares


@pytest.mark.parametrize("held_out_only", [False, True], ids=["whole_corpus", "held_out"])
def test_most_messages_get_a_specific_answer(content: ContentBase, held_out_only: bool) -> None:
    shares = _override_shares(content, held_out_only)
    low = {c: round(s, 2) for c, s in shares.items() if s < 0.30}
    assert low == {}, f"categories where under 30% of messages select a specific answer: {low}"


# -- invalid content files ----------------------------------------------------------------------
def _answer_fields(answer_id: str) -> dict[str, Any]:
    return {
        "id": answer_id,
        "title": "A title",
        "steps": ["First do this.", "Then do that.", "Then rest."],
        "safety": ["Stop if it hurts."],
        "provider_guidance": "Ask the doctor.",
    }


def _valid_content() -> dict[str, Any]:
    overrides = [
        {**_answer_fields(f"{c}.topic{n}"), "category": c, "patterns": [rf"\btopic{n}\b"], "priority": 10}
        for c in CATEGORIES
        for n in (1, 2)
    ]
    generic = [{**_answer_fields(f"{c}.generic"), "category": c} for c in CATEGORIES]
    return {
        "overrides": overrides,
        "generic": generic,
        "out_of_scope": _answer_fields("out_of_scope"),
        "fallback": _answer_fields("fallback"),
    }


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_small_valid_file_loads(tmp_path: Path) -> None:
    content = load_content(_write(tmp_path, _valid_content()))
    assert content.select("adl_mobility", "TOPIC2 please").id == "adl_mobility.topic2"
    assert content.select("adl_mobility", "nothing specific") is content.generic["adl_mobility"]
    assert content.source == str(tmp_path / "answers.yaml")


def test_higher_priority_wins_and_ties_go_to_the_first_in_file(tmp_path: Path) -> None:
    data = _valid_content()
    first, second = data["overrides"][0], data["overrides"][1]  # adl_mobility.topic1, .topic2
    first["patterns"] = second["patterns"] = [r"\bboth\b"]
    assert load_content(_write(tmp_path, data)).select("adl_mobility", "both").id == "adl_mobility.topic1"
    second["priority"] = 11
    assert load_content(_write(tmp_path, data)).select("adl_mobility", "both").id == "adl_mobility.topic2"


def _break(data: dict[str, Any], how: str) -> None:
    entry = data["overrides"][0]  # adl_mobility.topic1
    if how == "unknown_category":
        entry["category"] = "tax_help"
    elif how == "missing_field":
        del entry["safety"]
    elif how == "too_few_steps":
        entry["steps"] = ["Only one.", "Only two."]
    elif how == "empty_safety":
        entry["safety"] = []
    elif how == "invalid_regex":
        entry["patterns"] = [r"\bok\b", "(unclosed"]
    elif how == "duplicate_id":
        data["overrides"][1]["id"] = entry["id"]
    elif how == "no_generic":
        data["generic"] = [g for g in data["generic"] if g["category"] != "senior_care"]
    elif how == "too_few_overrides":
        data["overrides"] = [o for o in data["overrides"] if o["id"] != "fall_prevention.topic2"]
    elif how == "unknown_field":
        entry["saftey"] = entry.pop("safety")
    elif how == "numbered_step":
        entry["steps"][1] = "2. Then do that."
    elif how == "pattern_matches_everything":
        entry["patterns"] = [r"\bok\b", "x*"]
    elif how == "priority_not_a_number":
        entry["priority"] = "high"
    elif how == "bad_resource":
        entry["resources"] = [{"name": "Helpline"}]
    elif how == "id_without_category":
        entry["id"] = "bed_mobility"
    elif how == "too_many_safety_notes":
        entry["safety"] = ["a", "b", "c", "d", "e"]
    else:  # pragma: no cover - a typo in the parametrisation
        raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "entry", "field", "message"),
    [
        ("unknown_category", "adl_mobility.topic1", "category", "unknown category 'tax_help'"),
        ("missing_field", "adl_mobility.topic1", "safety", "missing required field"),
        ("too_few_steps", "adl_mobility.topic1", "steps", "has 2 item(s); 3 to 7 are required"),
        ("empty_safety", "adl_mobility.topic1", "safety", "has 0 item(s); 1 to 4 are required"),
        ("invalid_regex", "adl_mobility.topic1", "patterns[1]", "invalid regular expression"),
        ("duplicate_id", "adl_mobility.topic1", "id", "used by more than one answer"),
        ("no_generic", "generic", "category", "no generic answer for category 'senior_care'"),
        ("too_few_overrides", "overrides", "category", "'fall_prevention' has 1 override(s)"),
        ("unknown_field", "adl_mobility.topic1", "saftey", "unknown field"),
        ("numbered_step", "adl_mobility.topic1", "steps[1]", "starts with a number"),
        ("pattern_matches_everything", "adl_mobility.topic1", "patterns[1]", "matches empty text"),
        ("priority_not_a_number", "adl_mobility.topic1", "priority", "must be a whole number"),
        ("bad_resource", "adl_mobility.topic1", "resources[0]", "exactly 'name' and 'contact'"),
        ("id_without_category", "bed_mobility", "id", "must start with its category"),
        ("too_many_safety_notes", "adl_mobility.topic1", "safety", "has 5 item(s); 1 to 4 are required"),
    ],
)
def test_invalid_content_names_the_entry_and_field(
    tmp_path: Path, how: str, entry: str, field: str, message: str
) -> None:
    data = copy.deepcopy(_valid_content())
    _break(data, how)
    with pytest.raises(ContentError) as caught:
        load_content(_write(tmp_path, data))
    error = caught.value
    assert (error.entry, error.field) == (entry, field)
    assert message in str(error)
    assert f"entry {entry!r}" in str(error) and f"field {field!r}" in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("overrides:\n  - id: a\n    id: b\n", "duplicate key 'id'"),
        ("overrides: [unclosed\n", "line 2"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("overrides: []\ngeneric: []\nout_of_scope: {}\n", "missing section"),
    ],
)
def test_unreadable_files_are_reported_with_where_the_problem_is(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError, match=re.escape(message)):
        load_content(path)


def test_a_missing_file_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="cannot read the content file"):
        load_content(tmp_path / "nope.yaml")
