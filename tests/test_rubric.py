"""Tests for casenotes.rubric: the default rubric and the loader's validation messages."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from casenotes.errors import RubricError
from casenotes.rubric import Rubric, load_rubric, parse_rubric
from casenotes.schema import DOMAINS, FLAG_TYPES

SEVERITIES = {"safety": 5, "crisis": 5, "housing_loss": 4, "legal": 3, "disengagement": 2}


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric()


@pytest.fixture(scope="module")
def raw_rubric(rubric: Rubric) -> dict[str, Any]:
    """The default rubric as plain data, a base for the broken variants."""
    return rubric.model_dump(mode="json")


def test_rubric_default_loads(rubric: Rubric) -> None:
    assert rubric.name == "self-sufficiency"
    assert rubric.version == "1.0.0"
    assert re.fullmatch(r"[0-9a-f]{64}", rubric.content_hash)


def test_rubric_has_fourteen_domains_of_five_levels(rubric: Rubric) -> None:
    assert [domain.id for domain in rubric.domains] == list(DOMAINS)
    for domain in rubric.domains:
        assert [level.level for level in domain.levels] == [1, 2, 3, 4, 5]
        assert all(len(level.examples) >= 3 for level in domain.levels)


def test_rubric_default_keeps_the_authoring_ranges(rubric: Rubric) -> None:
    for domain in rubric.domains:
        assert 10 <= len(domain.keywords) <= 25, domain.id
        for level in domain.levels:
            assert 5 <= len(level.examples) <= 8, (domain.id, level.level)
            assert len(set(level.examples)) == len(level.examples), (domain.id, level.level)
    for flag in rubric.flags:
        assert 15 <= len(flag.cues) <= 40, flag.type
        assert 5 <= len(flag.examples) <= 10, flag.type
        assert 3 <= len(flag.counter_examples) <= 6, flag.type


def test_rubric_has_each_flag_type_with_its_severity(rubric: Rubric) -> None:
    assert [flag.type for flag in rubric.flags] == list(FLAG_TYPES)
    assert {flag.type: flag.severity for flag in rubric.flags} == SEVERITIES


def test_rubric_lookup_by_domain_and_flag(rubric: Rubric) -> None:
    assert rubric.domain("housing").levels[0].level == 1
    assert rubric.flag("legal").severity == 3
    with pytest.raises(KeyError):
        rubric.domain("hobbies")
    with pytest.raises(KeyError):
        rubric.flag("weather")


def test_rubric_hash_is_stable(rubric: Rubric, raw_rubric: dict[str, Any]) -> None:
    assert load_rubric().content_hash == rubric.content_hash
    assert parse_rubric(copy.deepcopy(raw_rubric), "copy").content_hash == rubric.content_hash


def test_rubric_hash_changes_when_content_changes(rubric: Rubric, raw_rubric: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_rubric)
    data["domains"][0]["levels"][0]["examples"].append("Cl slept at the bus depot last night.")
    assert parse_rubric(data, "edited").content_hash != rubric.content_hash
    data = copy.deepcopy(raw_rubric)
    data["version"] = "1.0.1"
    assert parse_rubric(data, "edited").content_hash != rubric.content_hash


def test_rubric_loads_by_path_and_by_name_from_a_directory(tmp_path: Path, raw_rubric: dict[str, Any]) -> None:
    (tmp_path / "custom.yaml").write_text(yaml.safe_dump(raw_rubric), encoding="utf-8")
    by_name = load_rubric("custom", rubric_dir=tmp_path)
    by_path = load_rubric(tmp_path / "custom.yaml")
    assert by_name.content_hash == by_path.content_hash == load_rubric().content_hash


def test_rubric_unknown_name_raises(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="nope.yaml"):
        load_rubric("nope", rubric_dir=tmp_path)


def test_rubric_every_flag_cue_compiles(rubric: Rubric) -> None:
    for flag in rubric.flags:
        for cue in flag.cues:
            re.compile(cue, re.IGNORECASE)


@pytest.mark.parametrize("flag_type", FLAG_TYPES)
def test_rubric_flag_cues_match_each_own_example(rubric: Rubric, flag_type: str) -> None:
    flag = rubric.flag(flag_type)
    patterns = flag.patterns()
    unmatched = [example for example in flag.examples if not any(p.search(example) for p in patterns)]
    assert unmatched == []


@pytest.mark.parametrize("flag_type", FLAG_TYPES)
def test_rubric_combined_cue_pattern_agrees_with_the_cues_one_by_one(rubric: Rubric, flag_type: str) -> None:
    flag = rubric.flag(flag_type)
    texts = [*flag.examples, *flag.counter_examples, *(e for other in rubric.flags for e in other.examples)]
    assert [bool(flag.any_cue.search(t)) for t in texts] == \
        [any(p.search(t) for p in flag.patterns()) for t in texts]


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _drop_level(data: dict[str, Any]) -> None:
    del data["domains"][0]["levels"][3]


def _duplicate_domain(data: dict[str, Any]) -> None:
    data["domains"][5] = copy.deepcopy(data["domains"][1])


def _drop_version(data: dict[str, Any]) -> None:
    del data["version"]


BROKEN_RUBRICS = [
    pytest.param(_drop_level, r"domain 'housing': levels: .*got \[1, 2, 3, 5\]", id="missing-level"),
    pytest.param(_set(("domains", 2, "id"), "hobbies"), r"domain 'hobbies': id: unknown value 'hobbies'",
                 id="unknown-domain"),
    pytest.param(_duplicate_domain, r"domains: domain listed more than once: 'employment'", id="duplicate-domain"),
    pytest.param(_set(("flags", 1, "cues", 2), r"\b(unclosed"), r"flag 'crisis': cues\[2\]: invalid regular",
                 id="bad-regex"),
    pytest.param(_set(("flags", 1, "cues", 2), r"hurt(?i)self"), r"flag 'crisis': cues\[2\]: invalid regular",
                 id="global-flag-mid-cue"),
    pytest.param(_set(("flags", 1, "cues", 2), r"(\w+) and \1"), r"flag 'crisis': cues\[2\]: .*back-reference",
                 id="back-reference"),
    pytest.param(_set(("domains", 0, "levels", 1, "colour"), "blue"), r"domain 'housing': levels\[1\]\.colour: unknown field",
                 id="extra-field"),
    pytest.param(_drop_version, r": version: field required", id="missing-version"),
    pytest.param(_set(("version",), "1.0"), r": version: must be a semantic version", id="bad-version"),
    pytest.param(_set(("domains", 0, "levels", 2, "examples"), ["one", "two"]),
                 r"domain 'housing': levels\[2\]\.examples: at least 3 examples required", id="too-few-examples"),
    pytest.param(_set(("flags", 4, "severity"), 9), r"flag 'disengagement': severity: ", id="bad-severity"),
]


@pytest.mark.parametrize(("break_rubric", "expected"), BROKEN_RUBRICS)
def test_rubric_broken_file_raises_naming_the_fault(
    tmp_path: Path, raw_rubric: dict[str, Any], break_rubric: Callable[[dict[str, Any]], None], expected: str
) -> None:
    data = copy.deepcopy(raw_rubric)
    break_rubric(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    message = str(caught.value)
    assert "broken.yaml" in message
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("name: x\nversion: '1.0.0'\ndomains: [\n  - id: housing\n", r"line \d+, column \d+", id="unclosed-flow"),
        pytest.param("name: x\nversion: '1.0.0'\n  description: bad indent\n", r"line 3, column \d+", id="bad-indent"),
        pytest.param("name: x\nname: y\n", r"line 2, column 1: duplicate key 'name'", id="duplicate-key"),
        pytest.param("- just\n- a list\n", r"top level must be a mapping", id="not-a-mapping"),
    ],
)
def test_rubric_yaml_syntax_error_names_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert "syntax.yaml" in str(caught.value)
    assert re.search(expected, str(caught.value)), str(caught.value)


def test_rubric_parse_never_leaks_a_validation_error() -> None:
    with pytest.raises(RubricError, match=r"rubric inline: .*field required"):
        parse_rubric({"name": "x"}, "inline")
