"""Loading runbooks as a new user would get them wrong: every problem positioned, none a traceback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from runbook_helpers import EXAMPLES, load_problems

from andon.runbook.load import field_label, load, load_all, load_runbook
from andon.runbook.schema import Runbook
from andon.runbook.units import Rate
from andon.runbook.yamlnodes import MAX_BYTES
from conftest import Write

MINIMAL = """\
andon: 1
organisation:
  name: Acme
  contacts:
    ops: {name: Omar, role: operations, email: ops@acme.example}
    eng: {name: Eve, role: technical, email: eng@acme.example}
  escalation: [ops]
severities:
  - id: sev1
    name: Critical
    definition: Harm in progress
    acknowledge_within: 15m
    page: [ops]
workflows:
  - id: triage
    purpose: Routes tickets
    owners: {business: ops, technical: eng}
    model: {provider: openai, name: gpt-4.1-mini}
    tools:
      - {name: crm.read, effect: read}
      - {name: crm.update, effect: write, undo: crm.restore}
    autonomy: advise
    recovery: Pause and restore.
"""


def one(problems: list) -> tuple[str, str, str]:  # type: ignore[type-arg]
    """(file:line:col, code, message) of the only problem."""
    assert len(problems) == 1, [p.render() for p in problems]
    p = problems[0]
    return f"{Path(p.file).name}:{p.line}:{p.column}", p.code, p.message


def test_minimal_runbook_loads_with_typed_values(write: Write) -> None:
    runbook = load_runbook(write(MINIMAL))
    assert runbook.severity("sev1").acknowledge_within.total_seconds() == 900
    workflow = runbook.workflow("triage")
    assert workflow.tool("crm.update").reversible is True
    assert workflow.tool("crm.read").reversible is True


def test_typo_in_a_key_suggests_the_valid_one(write: Write) -> None:
    path = write(MINIMAL.replace("    autonomy: advise\n", "    autonomy: advise\n    aprovers: [ops]\n"))
    problems = load_problems(path)
    assert one(problems) == (
        "runbook.yaml:23:5",
        "AND004",
        "unknown key 'aprovers'; did you mean 'approvers'?",
    )
    assert problems[0].path == "workflows[triage].aprovers"


def test_unknown_key_without_a_close_match_lists_the_valid_keys(write: Write) -> None:
    path = write(MINIMAL.replace("  name: Acme\n", "  name: Acme\n  colour: blue\n"))
    where, code, message = one(load_problems(path))
    assert (where, code) == ("runbook.yaml:4:3", "AND004")
    assert message == "unknown key 'colour'; valid keys here: name, contacts, escalation"


def test_wrong_type_names_what_was_expected(write: Write) -> None:
    path = write(MINIMAL.replace("    page: [ops]", "    page: ops"))
    where, code, message = one(load_problems(path))
    assert (where, code) == ("runbook.yaml:13:11", "AND006")
    assert message.startswith("'page' should be a list")
    assert "not 'ops'" in message


def test_missing_owner_points_at_the_owners_mapping(write: Write) -> None:
    path = write(MINIMAL.replace("{business: ops, technical: eng}", "{business: ops}"))
    problems = load_problems(path)
    assert one(problems) == (
        "runbook.yaml:17:13",
        "AND005",
        "missing owner: add 'technical: <contact id>' under owners "
        "(the person who handles logs, rollback, fixes and monitoring)",
    )
    assert problems[0].path == "workflows[triage].owners.technical"


def test_missing_required_section(write: Write) -> None:
    path = write(MINIMAL.replace("    recovery: Pause and restore.\n", ""))
    assert one(load_problems(path)) == ("runbook.yaml:15:5", "AND005", "missing required key 'recovery'")


def test_bad_indentation_is_a_positioned_yaml_error(write: Write) -> None:
    path = write(MINIMAL.replace("    purpose: Routes tickets", "   purpose: Routes tickets"))
    where, code, message = one(load_problems(path))
    assert (where, code) == ("runbook.yaml:16:4", "AND002")
    assert message.startswith("YAML syntax error:")
    assert "indentation" in message


def test_tab_indentation_says_use_spaces(write: Write) -> None:
    path = write(MINIMAL.replace("    autonomy: advise", "\tautonomy: advise"))
    where, code, message = one(load_problems(path))
    assert (where, code) == ("runbook.yaml:22:1", "AND002")
    assert "tabs" in message


def test_unknown_tool_effect_lists_the_valid_effects(write: Write) -> None:
    path = write(MINIMAL.replace("effect: write,", "effect: writes,"))
    problems = load_problems(path)
    assert one(problems) == (
        "runbook.yaml:21:36",
        "AND006",
        "'writes' is not a valid effect; did you mean 'write'? (valid: read, write, send, delete, spend)",
    )
    assert problems[0].path == "workflows[triage].tools[crm.update].effect"


def test_bad_duration_says_what_a_duration_looks_like(write: Write) -> None:
    path = write(MINIMAL.replace("acknowledge_within: 15m", "acknowledge_within: 15 minutes"))
    where, code, message = one(load_problems(path))
    assert (where, code) == ("runbook.yaml:12:25", "AND006")
    assert "is not a duration" in message and "15m" in message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(write: Write, text: str) -> None:
    assert one(load_problems(write(text))) == (
        "runbook.yaml:1:1",
        "AND001",
        "file is empty; a runbook starts with 'andon: 1'",
    )


def test_binary_file(write: Write) -> None:
    path = write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), name="logo.yaml")
    where, code, message = one(load_problems(path))
    assert (where, code) == ("logo.yaml:1:1", "AND001")
    assert "binary file" in message


def test_file_over_the_size_limit_is_refused_without_reading_it(write: Write) -> None:
    path = write(b"a: b\n" * (20 * 1024 * 1024 // 5), name="huge.yaml")
    assert path.stat().st_size > MAX_BYTES
    where, code, message = one(load_problems(path))
    assert (where, code) == ("huge.yaml:1:1", "AND001")
    assert message.startswith("file is 20.0 MB; a runbook may be at most 5 MB")


def test_non_utf8_file_points_at_the_bad_byte(write: Write) -> None:
    path = write(MINIMAL.replace("name: Acme", "name: Caf\u00e9").encode("latin-1"))
    where, code, message = one(load_problems(path))
    assert (where, code) == ("runbook.yaml:3:12", "AND001")
    assert message == "byte 0xe9 is not UTF-8; save the file as UTF-8"


def test_missing_path(tmp_path: Path) -> None:
    where, code, message = one(load_problems(tmp_path / "nope.yaml"))
    assert (where, code, message) == ("nope.yaml:1:1", "AND001", "no such file or folder")


def test_duplicate_key_names_the_first_place(write: Write) -> None:
    path = write(
        MINIMAL.replace("    autonomy: advise\n", "    autonomy: advise\n    autonomy: autonomous\n")
    )
    assert one(load_problems(path)) == (
        "runbook.yaml:23:5",
        "AND003",
        "duplicate key 'autonomy'; it is already set at line 22, column 5. Keep one",
    )


def test_unknown_contact_reference_suggests_the_close_one(write: Write) -> None:
    path = write(MINIMAL.replace("technical: eng}", "technical: eng2}"))
    problems = load_problems(path)
    assert one(problems) == (
        "runbook.yaml:17:40",
        "AND007",
        "unknown contact 'eng2'; did you mean 'eng'? (contacts: ops, eng)",
    )
    assert problems[0].path == "workflows[triage].owners.technical"


def test_unknown_severity_and_tool_references(write: Write) -> None:
    text = MINIMAL.replace(
        "workflows:\n",
        "incident_classes:\n"
        "  - {id: prompt_injection, default_severity: sev0, owner_role: operations}\n"
        "workflows:\n",
    ).replace(
        "    autonomy: advise\n", "    autonomy: advise\n    limits: {rate: {tools: {crm.updat: 5/min}}}\n"
    )
    problems = load_problems(write(text))
    rendered = [(p.line, p.column, p.code, p.message) for p in problems]
    assert rendered == [
        (15, 46, "AND007", "unknown severity 'sev0'; did you mean 'sev1'? (severities: sev1)"),
        (
            25,
            29,
            "AND007",
            "unknown tool 'crm.updat'; did you mean 'crm.update'? (tools: crm.read, crm.update)",
        ),
    ]


def test_misspelt_incident_class_suggests_the_built_in_one(write: Write) -> None:
    text = MINIMAL.replace(
        "workflows:\n",
        "incident_classes:\n"
        "  - {id: prompt_injecton, default_severity: sev1, owner_role: operations}\n"
        "workflows:\n",
    )
    where, code, message = one(load_problems(write(text)))
    assert (where, code) == ("runbook.yaml:15:10", "AND007")
    assert "did you mean 'prompt_injection'?" in message and "custom: true" in message


def test_several_problems_are_all_reported_in_file_order(write: Write) -> None:
    text = MINIMAL.replace("effect: write,", "effect: writes,").replace("    page: [ops]", "    page: ops")
    problems = load_problems(write(text))
    assert [(p.line, p.code) for p in problems] == [(13, "AND006"), (21, "AND006")]


def test_top_level_list_is_refused(write: Write) -> None:
    where, code, message = one(load_problems(write("- andon: 1\n")))
    assert (where, code) == ("runbook.yaml:1:1", "AND006")
    assert "must be a mapping" in message


def test_two_documents_in_one_file(write: Write) -> None:
    where, code, message = one(load_problems(write(MINIMAL + "---\nandon: 1\n")))
    assert (where, code) == ("runbook.yaml:24:1", "AND002")
    assert "more than one YAML document" in message


def test_alias_bomb_is_refused(write: Write) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    _, code, message = one(load_problems(write("\n".join(lines) + "\n")))
    assert code == "AND001"
    assert "far more than a runbook needs" in message


def test_folder_is_merged_and_positions_stay_in_each_file(write: Write, tmp_path: Path) -> None:
    org, _, rest = MINIMAL.partition("workflows:\n")
    write(org, name="rb/org.yaml")
    write("workflows:\n" + rest.replace("effect: write,", "effect: sned,"), name="rb/workflows/triage.yml")
    problems = load_problems(tmp_path / "rb")
    assert one(problems)[:2] == ("triage.yml:8:36", "AND006")
    assert problems[0].file.endswith("workflows/triage.yml")


def test_duplicate_workflow_id_across_files_names_both_places(write: Write, tmp_path: Path) -> None:
    org, _, rest = MINIMAL.partition("workflows:\n")
    write(org, name="rb/org.yaml")
    write("workflows:\n" + rest, name="rb/a.yaml")
    write("workflows:\n" + rest, name="rb/b.yaml")
    problems = load_problems(tmp_path / "rb")
    where, code, message = one(problems)
    assert (where, code) == ("b.yaml:2:9", "AND003")
    assert message == f"duplicate workflow id 'triage'; first declared at {tmp_path / 'rb' / 'a.yaml'}:2:9"


def test_organisation_in_two_files_of_a_split_runbook(write: Write, tmp_path: Path) -> None:
    org, _, rest = MINIMAL.partition("workflows:\n")
    write(org, name="rb/org.yaml")
    write(
        "organisation:\n  name: Other\n  contacts: {x: {name: X, role: legal}}\nworkflows:\n" + rest,
        name="rb/wf.yaml",
    )
    where, code, message = one(load_problems(tmp_path / "rb"))
    assert (where, code) == ("wf.yaml:1:1", "AND003")
    assert "'organisation' is already declared at" in message


def test_folder_of_complete_runbooks_is_a_collection() -> None:
    loaded = load_all(EXAMPLES)
    assert sorted(w.id for one in loaded for w in one.runbook.workflows) == [
        "quote-estimates",
        "support-agent",
        "support-triage",
    ]
    with pytest.raises(Exception, match="3 separate runbooks"):
        load(EXAMPLES)


def test_folder_without_yaml(tmp_path: Path) -> None:
    _, code, message = one(load_problems(tmp_path))
    assert (code, message) == ("AND001", "no .yaml or .yml files in this folder")


@pytest.mark.parametrize("name", ["support-agent.yaml", "support-triage.yaml", "quote-estimates.yaml"])
def test_examples_round_trip_through_the_stored_document(name: str) -> None:
    runbook = load_runbook(EXAMPLES / name)
    assert Runbook.from_document(runbook.to_document()) == runbook


def test_rates_and_durations_in_the_example_are_typed() -> None:
    workflow = load_runbook(EXAMPLES / "support-agent.yaml").workflow("support-agent")
    assert workflow.rate_limit("crm.update_tier") == Rate(count=10, per=timedelta(minutes=1))
    assert workflow.tool("email.send_refund").reversible is False
    assert workflow.tool("crm.update_tier").reversible is True
    with pytest.raises(KeyError, match=r"no tool 'crm\.delete'"):
        workflow.tool("crm.delete")


def test_field_label_uses_ids_and_names() -> None:
    data = {"workflows": [{"id": "support-triage", "tools": [{"name": "a"}, {}, {"name": "crm.update"}]}]}
    assert (
        field_label(data, ("workflows", 0, "tools", 2, "effect"))
        == "workflows[support-triage].tools[crm.update].effect"
    )
    assert (
        field_label(data, ("workflows", 0, "tools", 1, "effect"))
        == "workflows[support-triage].tools[1].effect"
    )


def test_absurd_nesting_is_refused_not_crashed(write: Write) -> None:
    path = write("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert one(load_problems(path)) == (
        "runbook.yaml:1:1",
        "AND001",
        "the document nests far deeper than a runbook needs",
    )


def test_date_shaped_value_that_is_no_date(write: Write) -> None:
    path = write(MINIMAL + "    drills: {cadence: 30d, last: 2026-13-45}\n")
    assert one(load_problems(path)) == (
        "runbook.yaml:24:34",
        "AND006",
        "cannot read '2026-13-45': month must be in 1..12",
    )


def test_contact_id_with_spaces_points_at_the_key(write: Write) -> None:
    path = write(MINIMAL.replace("    eng: {name: Eve", "    Eve Smith: {name: Eve"))
    problems = load_problems(path)
    first = problems[0]
    assert (first.line, first.column, first.code) == (6, 5, "AND006")
    assert (
        first.message == "'Eve Smith' cannot be an id; ids use letters, digits, '-', '_' and '.', no spaces"
    )


def test_out_of_range_number(write: Write) -> None:
    path = write(
        MINIMAL.replace(
            "    autonomy: advise\n", "    autonomy: advise\n    limits: {confidence_threshold: 1.5}\n"
        )
    )
    assert one(load_problems(path)) == (
        "runbook.yaml:23:36",
        "AND006",
        "'confidence_threshold' must be at most 1.0, not the number 1.5",
    )
