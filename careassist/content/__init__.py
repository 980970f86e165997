"""The assistant's reviewed answers (``answers.yaml``) and the choice of one answer for a message.

The content file is validated as a whole when it is loaded, so a bad edit fails at start-up with a
message naming the entry and the field, never later on a user's request. Selection is on the serving
hot path: each override's patterns are compiled once into a single alternation, the overrides of
each category are ranked once, and an override's regex runs only when the message contains one of
the literal strings that every match of its patterns must contain (derived from the parsed
patterns, so skipping is exact, never a guess). A typical message costs one or two regex searches.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml

from careassist.taxonomy import CATEGORIES, OUT_OF_SCOPE

# The standard library's own regex parser (private, so the prefilter is optional): a Python
# without it simply runs every override's regex.
_sre: Any
_sre_parser: Any
try:
    _sre = importlib.import_module("re._constants")
    _sre_parser = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover
    _sre = _sre_parser = None

CONTENT_FILE = "answers.yaml"
PACKAGED_SOURCE = f"careassist/content/{CONTENT_FILE}"
FALLBACK = "fallback"

MIN_STEPS = 3
MAX_STEPS = 7
MAX_SAFETY = 4
MIN_OVERRIDES_PER_CATEGORY = 2

_ANSWER_FIELDS = ("id", "title", "steps", "safety", "provider_guidance")
_OPTIONAL_FIELDS = ("resources",)
_GENERIC_FIELDS = (*_ANSWER_FIELDS, "category")
_OVERRIDE_FIELDS = (*_GENERIC_FIELDS, "patterns", "priority")
_SECTIONS = ("overrides", "generic", "out_of_scope", "fallback")

# The response builder numbers the steps; a number written into the content would be shown twice.
_LEADING_NUMBER = re.compile(r"^\s*(\d+\s*[.):]|step\s+\d+)", re.IGNORECASE)
# Patterns are joined into one alternation, which renumbers groups: a backreference would then
# point at another pattern's group and silently match the wrong thing.
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


class ContentError(ValueError):
    """The answer content is invalid; the message names the file, the entry and the field at fault."""

    def __init__(self, source: str, problem: str, *, entry: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.entry = entry
        self.field = field
        self.problem = problem
        where = [source]
        if entry is not None:
            where.append(f"entry {entry!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join(where)}: {problem}")


@dataclass(frozen=True)
class AnswerTemplate:
    """One reviewed answer: a title, numbered-ready steps, safety notes and when to call a professional."""

    id: str
    category: str
    title: str
    steps: tuple[str, ...]
    safety: tuple[str, ...]
    provider_guidance: str
    resources: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Override:
    """A specific answer and the patterns that select it within its category."""

    answer: AnswerTemplate
    patterns: tuple[str, ...]
    priority: int
    regex: re.Pattern[str] = field(repr=False, compare=False)
    #: Every match contains one of these strings; None when that cannot be derived (always search).
    triggers: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The answer's id."""
        return self.answer.id

    @property
    def category(self) -> str:
        """The category whose messages this override can answer."""
        return self.answer.category

    def matches(self, text: str) -> bool:
        """Whether any pattern matches the message (normalised as ``select`` does)."""
        return self.regex.search(normalise_for_matching(text)) is not None


def normalise_for_matching(text: str) -> str:
    """The form patterns run on: lowercased, whitespace collapsed to single spaces and trimmed."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class ContentBase:
    """The validated content: overrides ranked per category, one generic answer per category, and more."""

    ranked: Mapping[str, tuple[Override, ...]]
    generic: Mapping[str, AnswerTemplate]
    out_of_scope_answer: AnswerTemplate
    fallback_answer: AnswerTemplate
    all_overrides: tuple[Override, ...]
    source: str

    def select(self, category: str, text: str) -> AnswerTemplate:
        """The highest-priority matching override of the category (ties: first in file), else its generic answer.

        ``out_of_scope`` is accepted too and gives the out-of-scope answer.
        """
        if category == OUT_OF_SCOPE:
            return self.out_of_scope_answer
        try:
            candidates = self.ranked[category]
        except KeyError:
            raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}") from None
        normalised = normalise_for_matching(text)
        contains = normalised.__contains__
        for override in candidates:
            triggers = override.triggers
            if triggers is not None and not any(map(contains, triggers)):
                continue  # no match is possible without one of these strings
            if override.regex.search(normalised) is not None:
                return override.answer
        return self.generic[category]

    def out_of_scope(self) -> AnswerTemplate:
        """The honest answer for a message outside what the assistant can help with."""
        return self.out_of_scope_answer

    def fallback(self) -> AnswerTemplate:
        """The safe general answer used when a selected answer fails the quality check."""
        return self.fallback_answer

    def overrides(self) -> tuple[Override, ...]:
        """Every override, in file order."""
        return self.all_overrides

    def templates(self) -> tuple[AnswerTemplate, ...]:
        """Every answer of the content: overrides, generic answers, out of scope and fallback."""
        return (
            *(o.answer for o in self.all_overrides),
            *self.generic.values(),
            self.out_of_scope_answer,
            self.fallback_answer,
        )


# -- reading ---------------------------------------------------------------------------------
# The C parser when PyYAML was built with libyaml: ten times faster, same safe constructors.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe YAML loader that rejects a key given twice in one mapping instead of keeping the last."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it with its position
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (a second value would silently replace the first)",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _read(path: Path | None) -> tuple[str, str]:
    if path is None:
        return PACKAGED_SOURCE, resources.files(__package__).joinpath(CONTENT_FILE).read_text(encoding="utf-8")
    try:
        return str(path), Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(str(path), f"cannot read the content file ({exc})") from None


def _parse(source: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContentError(source, f"{where}not valid YAML ({problem})") from None


# -- validating ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    """One mapping of the file, with what is needed to name it in an error."""

    source: str
    label: str
    data: Mapping[str, Any]

    def fail(self, field_name: str | None, problem: str) -> NoReturn:
        raise ContentError(self.source, problem, entry=self.label, field=field_name)

    def check_fields(self, allowed: tuple[str, ...]) -> None:
        for name in self.data:
            if name not in (*allowed, *_OPTIONAL_FIELDS):
                self.fail(str(name), f"unknown field; allowed fields are {', '.join((*allowed, *_OPTIONAL_FIELDS))}")
        for name in allowed:
            if name not in self.data:
                self.fail(name, "missing required field")

    def text(self, name: str) -> str:
        value = self.data[name]
        if not isinstance(value, str) or not value.strip():
            self.fail(name, f"must be non-empty text, got {value!r}")
        return value.strip()

    def texts(self, name: str, *, least: int, most: int) -> tuple[str, ...]:
        values = self.data[name]
        if not isinstance(values, list):
            self.fail(name, f"must be a list of text, got {type(values).__name__}")
        if not least <= len(values) <= most:
            self.fail(name, f"has {len(values)} item(s); {least} to {most} are required")
        items = []
        for number, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                self.fail(f"{name}[{number}]", f"must be non-empty text, got {value!r}")
            items.append(value.strip())
        return tuple(items)


def _answer(entry: _Entry, category: str) -> AnswerTemplate:
    steps = entry.texts("steps", least=MIN_STEPS, most=MAX_STEPS)
    for number, step in enumerate(steps):
        if _LEADING_NUMBER.match(step):
            entry.fail(
                f"steps[{number}]", "starts with a number; write the step without it, the response is numbered for you"
            )
    return AnswerTemplate(
        id=entry.text("id"),
        category=category,
        title=entry.text("title"),
        steps=steps,
        safety=entry.texts("safety", least=1, most=MAX_SAFETY),
        provider_guidance=entry.text("provider_guidance"),
        resources=_resources(entry),
    )


def _resources(entry: _Entry) -> tuple[tuple[str, str], ...]:
    values = entry.data.get("resources", [])
    if not isinstance(values, list):
        entry.fail("resources", f"must be a list of {{name, contact}} mappings, got {type(values).__name__}")
    found = []
    for number, value in enumerate(values):
        if not isinstance(value, dict) or set(value) != {"name", "contact"}:
            entry.fail(f"resources[{number}]", f"must be a mapping with exactly 'name' and 'contact', got {value!r}")
        if not all(isinstance(value[k], str) and value[k].strip() for k in ("name", "contact")):
            entry.fail(f"resources[{number}]", "'name' and 'contact' must be non-empty text")
        found.append((value["name"].strip(), value["contact"].strip()))
    return tuple(found)


def _category(entry: _Entry) -> str:
    category = entry.text("category")
    if category not in CATEGORIES:
        entry.fail("category", f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    answer_id = entry.text("id")
    if not answer_id.startswith(f"{category}."):
        entry.fail("id", f"must start with its category, as in '{category}.<name>'")
    return category


def _compile(entry: _Entry) -> tuple[tuple[str, ...], re.Pattern[str]]:
    patterns = entry.texts("patterns", least=1, most=1000)
    for number, pattern in enumerate(patterns):
        name = f"patterns[{number}]"
        if _BACKREFERENCE.search(pattern):
            entry.fail(name, "backreferences are not supported (patterns are joined into one expression)")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            entry.fail(name, f"invalid regular expression {pattern!r}: {exc}")
        if compiled.search("") is not None:
            entry.fail(name, f"{pattern!r} matches empty text, so it would select this answer for every message")
    try:
        combined = re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error as exc:  # e.g. a global flag such as (?i) that is only valid at the very start
        entry.fail("patterns", f"the patterns cannot be combined into one expression: {exc}")
    return patterns, combined


def _override(entry: _Entry) -> Override:
    entry.check_fields(_OVERRIDE_FIELDS)
    category = _category(entry)
    priority = entry.data["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int):
        entry.fail("priority", f"must be a whole number, got {priority!r}")
    patterns, regex = _compile(entry)
    return Override(
        answer=_answer(entry, category), patterns=patterns, priority=priority, regex=regex, triggers=_triggers(patterns)
    )


# -- the literal prefilter -------------------------------------------------------------------
def required_literals(pattern: str) -> frozenset[str] | None:
    """Strings of which every match of the pattern contains at least one, or None if none can be derived."""
    if _sre_parser is None:
        return None
    try:
        parsed = _sre_parser.parse(pattern)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & _sre.SRE_FLAG_IGNORECASE:
        return None  # literals would then match in any case
    return _sequence_literals(parsed.data)


def _sequence_literals(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    # Every item of a sequence must match, so the requirement of any one item is a requirement of
    # the whole; keep the one with the longest shortest string (fewest false alarms).
    candidates: list[frozenset[str] | None] = []
    run: list[str] = []
    for op, av in items:
        if op is _sre.LITERAL:
            run.append(chr(av))  # consecutive literals match consecutive characters
            continue
        if run:
            candidates.append(frozenset({"".join(run)}))
            run = []
        if op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if not (add_flags or del_flags):
                candidates.append(_sequence_literals(sub.data))
        elif op is _sre.ATOMIC_GROUP:
            candidates.append(_sequence_literals(av.data))
        elif op is _sre.BRANCH:
            alternatives = [_sequence_literals(alternative.data) for alternative in av[1]]
            if all(alternatives):
                candidates.append(frozenset().union(*alternatives))  # type: ignore[arg-type]
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            least, _most, sub = av
            if least >= 1:
                candidates.append(_sequence_literals(sub.data))
        # Anything else (classes, anchors, lookarounds, backreferences) requires no fixed string.
    if run:
        candidates.append(frozenset({"".join(run)}))
    found = [c for c in candidates if c]
    if not found:
        return None
    return max(found, key=lambda strings: (min(map(len, strings)), -len(strings)))


def _triggers(patterns: tuple[str, ...]) -> tuple[str, ...] | None:
    per_pattern = [required_literals(p) for p in patterns]
    if any(strings is None for strings in per_pattern):
        return None
    # A string that contains another trigger adds nothing: wherever it occurs, so does the shorter one.
    kept: list[str] = []
    for string in sorted(frozenset().union(*per_pattern), key=lambda s: (len(s), s)):  # type: ignore[arg-type]
        if not any(shorter in string for shorter in kept):
            kept.append(string)
    return tuple(kept)


def _generic(entry: _Entry) -> AnswerTemplate:
    entry.check_fields(_GENERIC_FIELDS)
    return _answer(entry, _category(entry))


def _single(source: str, section: str, value: Any) -> AnswerTemplate:
    if not isinstance(value, dict):
        raise ContentError(source, f"must be a mapping (one answer), got {type(value).__name__}", entry=section)
    answer_id = value.get("id")
    label = answer_id if isinstance(answer_id, str) else section
    entry = _Entry(source, label, value)
    entry.check_fields(_ANSWER_FIELDS)
    category = OUT_OF_SCOPE if section == "out_of_scope" else FALLBACK
    return _answer(entry, category)


def _entries(source: str, section: str, value: Any) -> list[_Entry]:
    if not isinstance(value, list) or not value:
        raise ContentError(source, f"must be a non-empty list of answers, got {value!r:.60}", entry=section)
    entries = []
    for number, item in enumerate(value):
        if not isinstance(item, dict):
            raise ContentError(source, f"must be a mapping, got {item!r:.60}", entry=f"{section}[{number}]")
        label = item["id"] if isinstance(item.get("id"), str) and item["id"].strip() else f"{section}[{number}]"
        entries.append(_Entry(source, label, item))
    return entries


def _check_unique_ids(source: str, answers: Iterable[AnswerTemplate]) -> None:
    seen: set[str] = set()
    for answer in answers:
        if answer.id in seen:
            raise ContentError(source, "this id is used by more than one answer", entry=answer.id, field="id")
        seen.add(answer.id)


def build_content(data: Any, source: str = "<content>") -> ContentBase:
    """Validate parsed content (the mapping of ``answers.yaml``) and build the content base."""
    if not isinstance(data, dict):
        raise ContentError(
            source, f"the top level must be a mapping with {', '.join(_SECTIONS)}, got {type(data).__name__}"
        )
    for name in data:
        if name not in _SECTIONS:
            raise ContentError(source, f"unknown section; expected {', '.join(_SECTIONS)}", entry=str(name))
    for name in _SECTIONS:
        if name not in data:
            raise ContentError(source, "missing section", entry=name)

    overrides = tuple(_override(entry) for entry in _entries(source, "overrides", data["overrides"]))
    generic: dict[str, AnswerTemplate] = {}
    for entry in _entries(source, "generic", data["generic"]):
        answer = _generic(entry)
        if answer.category in generic:
            entry.fail(
                "category",
                f"a second generic answer for {answer.category!r} (the first is {generic[answer.category].id!r})",
            )
        generic[answer.category] = answer
    out_of_scope = _single(source, "out_of_scope", data["out_of_scope"])
    fallback = _single(source, FALLBACK, data[FALLBACK])
    _check_unique_ids(source, (*(o.answer for o in overrides), *generic.values(), out_of_scope, fallback))

    ranked: dict[str, tuple[Override, ...]] = {}
    for category in CATEGORIES:
        if category not in generic:
            raise ContentError(
                source, f"no generic answer for category {category!r}", entry="generic", field="category"
            )
        # sorted() is stable, so overrides of equal priority keep their order in the file.
        mine = sorted((o for o in overrides if o.category == category), key=lambda o: -o.priority)
        if len(mine) < MIN_OVERRIDES_PER_CATEGORY:
            raise ContentError(
                source,
                f"category {category!r} has {len(mine)} override(s) ({', '.join(o.id for o in mine) or 'none'});"
                f" at least {MIN_OVERRIDES_PER_CATEGORY} are required",
                entry="overrides",
                field="category",
            )
        ranked[category] = tuple(mine)
    return ContentBase(
        ranked=MappingProxyType(ranked),
        generic=MappingProxyType({c: generic[c] for c in CATEGORIES}),
        out_of_scope_answer=out_of_scope,
        fallback_answer=fallback,
        all_overrides=overrides,
        source=source,
    )


def load_content(path: Path | None = None) -> ContentBase:
    """Load and validate the content file (default: the packaged ``answers.yaml``)."""
    source, text = _read(path)
    return build_content(_parse(source, text), source)
