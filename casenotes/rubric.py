"""Load and validate scoring rubrics (YAML): life domains with 1-5 level anchors, and risk flags.

The default rubric ships as ``casenotes/resources/rubrics/self-sufficiency.yaml``. A bad file raises
``RubricError`` naming the file, the domain or flag and the field path at fault, e.g.
``rubric x.yaml: domain 'housing': levels[2].examples: at least 3 examples required``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import cached_property
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from casenotes.errors import RubricError
from casenotes.resources import resource
from casenotes.schema import DOMAINS, FLAG_TYPES, DomainName, FlagType

__all__ = [
    "DomainDefinition", "FlagDefinition", "LevelDescriptor", "Rubric", "load_rubric", "parse_rubric",
]

LEVELS = (1, 2, 3, 4, 5)
MIN_LEVEL_EXAMPLES = 3
MAX_ERRORS_SHOWN = 5
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
PathName = str | os.PathLike[str]


def _compiles(cue: str) -> str:
    """A cue must also work as one alternative of its flag's combined pattern (`FlagDefinition.any_cue`)."""
    try:
        re.compile(f"(?:{cue})", re.IGNORECASE)
    except re.error as error:
        raise ValueError(f"invalid regular expression: {error}") from None
    if re.search(r"\\[1-9]|\(\?P=", cue):
        raise ValueError("a cue may not use a back-reference: it would point elsewhere in the combined pattern")
    return cue


Text = Annotated[str, Field(min_length=1)]
Cue = Annotated[str, Field(min_length=1), AfterValidator(_compiles)]


class _RubricPart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelDescriptor(_RubricPart):
    level: int = Field(ge=1, le=5)
    label: Text
    descriptor: Text
    examples: tuple[Text, ...] = Field(min_length=MIN_LEVEL_EXAMPLES)


class DomainDefinition(_RubricPart):
    id: DomainName
    title: Text
    description: Text
    keywords: tuple[Text, ...] = Field(min_length=1)
    levels: tuple[LevelDescriptor, ...]

    @field_validator("levels")
    @classmethod
    def _five_levels_in_order(cls, levels: tuple[LevelDescriptor, ...]) -> tuple[LevelDescriptor, ...]:
        numbers = [level.level for level in levels]
        if tuple(numbers) != LEVELS:
            raise ValueError(f"levels must be numbered 1, 2, 3, 4, 5 in order, got {numbers}")
        return levels


class FlagDefinition(_RubricPart):
    type: FlagType
    title: Text
    severity: int = Field(ge=1, le=5)
    description: Text
    cues: tuple[Cue, ...] = Field(min_length=1)
    examples: tuple[Text, ...] = Field(min_length=1)
    counter_examples: tuple[Text, ...] = ()

    def patterns(self) -> tuple[re.Pattern[str], ...]:
        """The cues compiled case-insensitively (the `re` module caches compiled patterns)."""
        return tuple(re.compile(cue, re.IGNORECASE) for cue in self.cues)

    @cached_property
    def any_cue(self) -> re.Pattern[str]:
        """One pattern matching where any cue does: a text is scanned once, not once a cue."""
        return re.compile("|".join(f"(?:{cue})" for cue in self.cues), re.IGNORECASE)


def _each_once(kind: str, found: list[str], expected: tuple[str, ...]) -> None:
    repeated = sorted({item for item in found if found.count(item) > 1})
    if repeated:
        raise ValueError(f"{kind} listed more than once: {', '.join(map(repr, repeated))}")
    missing = [item for item in expected if item not in found]
    if missing:
        raise ValueError(f"missing {kind}: {', '.join(map(repr, missing))}")


class Rubric(_RubricPart):
    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=SEMVER_PATTERN)
    description: Text
    domains: tuple[DomainDefinition, ...]
    flags: tuple[FlagDefinition, ...]

    @field_validator("domains")
    @classmethod
    def _each_domain_once(cls, domains: tuple[DomainDefinition, ...]) -> tuple[DomainDefinition, ...]:
        _each_once("domain", [domain.id for domain in domains], DOMAINS)
        return domains

    @field_validator("flags")
    @classmethod
    def _each_flag_once(cls, flags: tuple[FlagDefinition, ...]) -> tuple[FlagDefinition, ...]:
        _each_once("flag type", [flag.type for flag in flags], FLAG_TYPES)
        return flags

    @cached_property  # the rubric is frozen, and each scored note records the hash
    def content_hash(self) -> str:
        """sha256 hex digest of the canonical JSON (sorted keys) of the validated rubric."""
        data = self.model_dump(mode="json")
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def domain(self, domain_id: str) -> DomainDefinition:
        """The definition of one domain; KeyError if the rubric has none by that id."""
        for domain in self.domains:
            if domain.id == domain_id:
                return domain
        raise KeyError(f"no domain {domain_id!r} in rubric {self.name!r}")

    def flag(self, flag_type: str) -> FlagDefinition:
        """The definition of one flag type; KeyError if the rubric has none of that type."""
        for flag in self.flags:
            if flag.type == flag_type:
                return flag
        raise KeyError(f"no flag type {flag_type!r} in rubric {self.name!r}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key repeated in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    message = f"duplicate key {key_node.value!r}"
                    raise yaml.constructor.ConstructorError(None, None, message, key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _item_name(data: dict[str, Any], group: str, index: int) -> str:
    """How an error names data[group][index]: "domain 'housing'", else "domains[3]"."""
    key, kind = ("id", "domain") if group == "domains" else ("type", "flag")
    items = data.get(group)
    item = items[index] if isinstance(items, list) and index < len(items) else None
    if isinstance(item, dict) and isinstance(item.get(key), str):
        return f"{kind} {item[key]!r}"
    return f"{group}[{index}]"


def _describe_error(error: Any, data: dict[str, Any]) -> str:
    """One pydantic error as '<domain or flag>: <field path>: <message>'."""
    loc, prefix, kind = tuple(error["loc"]), "", error["type"]
    if len(loc) >= 2 and loc[0] in ("domains", "flags") and isinstance(loc[1], int):
        prefix, loc = _item_name(data, loc[0], loc[1]) + ": ", loc[2:]
    message = error["msg"].removeprefix("Value error, ").replace("a valid tuple", "a list")
    if kind in ("missing", "extra_forbidden"):
        message = "field required" if kind == "missing" else "unknown field (not allowed)"
    elif kind == "too_short" and loc and isinstance(loc[-1], str):
        needed = error["ctx"]["min_length"]
        message = f"at least {needed} {loc[-1]} required" if needed > 1 else "must not be empty"
    elif kind == "literal_error":
        message = f"unknown value {error['input']!r}; expected one of {error['ctx']['expected']}"
    elif kind == "string_pattern_mismatch" and loc == ("version",):
        message = "must be a semantic version such as '1.0.0'"
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return f"{prefix}{path.lstrip('.')}: {message}" if path else f"{prefix}{message}"


def parse_rubric(data: dict[str, Any], source: str) -> Rubric:
    """Validate already-loaded rubric data; `source` names it in error messages."""
    if not isinstance(data, dict):
        raise RubricError(f"rubric {source}: top level must be a mapping, not {type(data).__name__}")
    try:
        return Rubric.model_validate(data)
    except ValidationError as error:
        problems = [_describe_error(item, data) for item in error.errors()]
        extra = len(problems) - MAX_ERRORS_SHOWN
        summary = "; ".join(problems[:MAX_ERRORS_SHOWN]) + (f"; and {extra} more" if extra > 0 else "")
        raise RubricError(f"rubric {source}: {summary}") from None


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise RubricError(f"rubric {source}: YAML syntax error{where}: {problem}") from None


def _read_file(file: Traversable, source: str) -> str:
    if not file.is_file():
        where = "" if str(file) == source else f" at {file}"
        raise RubricError(f"rubric {source}: file not found{where}")
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RubricError(f"rubric {source}: cannot be read: {error}") from None


def _read_text(name_or_path: PathName, rubric_dir: PathName | None) -> tuple[str, str]:
    """(text, source) of a rubric given by path, or by name in `rubric_dir` or the package."""
    value = os.fspath(name_or_path)
    is_path = isinstance(name_or_path, os.PathLike) or value.endswith((".yaml", ".yml"))
    if is_path or "/" in value or os.sep in value:
        return _read_file(Path(value), value), value
    if not re.fullmatch(NAME_PATTERN, value):
        raise RubricError(f"rubric {value!r}: not a valid rubric name")
    folder = resource("rubrics") if rubric_dir is None else Path(rubric_dir)
    return _read_file(folder / f"{value}.yaml", f"{value}.yaml"), f"{value}.yaml"


def load_rubric(name_or_path: PathName = "self-sufficiency", rubric_dir: PathName | None = None) -> Rubric:
    """Load a rubric by name (``<name>.yaml`` in `rubric_dir`, default the packaged rubrics) or path."""
    text, source = _read_text(name_or_path, rubric_dir)
    return parse_rubric(_read_yaml(text, source), source)
