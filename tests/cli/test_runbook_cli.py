"""The runbook commands as a user runs them: output lines, JSON, exit codes, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from andon.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AGENT = EXAMPLES / "support-agent.yaml"
TODAY = ["--today", "2026-11-22"]


def run(*args: str | Path, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = AGENT.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "runbook.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in row)


def test_lint_examples_folder_is_clean() -> None:
    code, out, err = run("lint", EXAMPLES, *TODAY)
    assert (code, out) == (0, "")
    assert "3 runbooks, 3 workflows: 0 errors, 0 warnings" in err


def test_lint_error_finding_exits_1_with_a_positioned_line(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "undo: crm.restore_tier, approval: always,", "approval: always,")
    code, out, _ = run("lint", path, *TODAY)
    line = line_of(path, "name: crm.update_tier")
    assert code == 1
    assert out.startswith(f"{path}:{line}:")
    assert ": error AND104 tool 'crm.update_tier' is a write but declares no undo" in out


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "      last: 2026-11-12\n", "")
    code, out, _ = run("lint", path, *TODAY)
    assert code == 0
    assert ": warning AND111 " in out
    code, _, _ = run("lint", path, "--strict", *TODAY)
    assert code == 1


def test_unloadable_runbook_exits_2_with_the_position(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path, "approvers: [support-lead, billing-lead]", "aprovers: [support-lead, billing-lead]"
    )
    code, out, err = run("lint", path)
    line = line_of(path, "aprovers:")
    assert code == 2
    assert (
        out == f"{path}:{line}:5: error AND004 unknown key 'aprovers'; did you mean 'approvers'? "
        "(workflows[support-agent].aprovers)\n"
    )
    assert "cannot load the runbook" in err


def test_lint_json_output(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "    fail_closed: true\n", "    fail_closed: false\n")
    code, out, _ = run("lint", path, "-o", "json", *TODAY)
    document = json.loads(out)
    assert code == 0
    assert document["ok"] is True and document["loaded"] is True
    assert (document["errors"], document["warnings"]) == (0, 1)
    [problem] = document["problems"]
    assert problem["code"] == "AND124"
    assert problem["path"] == "workflows[support-agent].fail_closed"
    assert problem["line"] == line_of(path, "fail_closed: false")
    assert document["runbooks"][0]["workflows"] == ["support-agent"]


def test_lint_json_for_unusable_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    code, out, _ = run("lint", empty, "-o", "json")
    document = json.loads(out)
    assert code == 2
    assert document["loaded"] is False and document["ok"] is False
    assert document["problems"][0]["code"] == "AND001"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\x01\x02binary", "binary file"),
        (b"andon: 1\norganisation:\n  name: \xff\n", "not UTF-8"),
    ],
)
def test_bad_files_never_print_a_traceback(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "andon", "lint", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert expected in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_render_writes_html_and_markdown(tmp_path: Path) -> None:
    html, md = tmp_path / "out" / "agent.html", tmp_path / "agent.md"
    assert run("render", AGENT, "--format", "html", "-o", html)[0] == 0
    assert run("render", AGENT, "-o", md)[0] == 0
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert md.read_text(encoding="utf-8").startswith("# Incident runbook — Northwind Software Ltd")


def test_render_to_stdout_and_refuses_unloadable(tmp_path: Path) -> None:
    code, out, _ = run("render", AGENT)
    assert code == 0 and "## Stop a workflow" in out
    code, out, _ = run("render", tmp_path / "missing.yaml")
    assert code == 2 and "no such file or folder" in out


def test_init_from_flags_writes_a_runbook_that_lints_without_errors(tmp_path: Path) -> None:
    output = tmp_path / "rb" / "runbook.yaml"
    code, _, err = run(
        "init",
        "--workflow", "quote-bot", "--purpose", "Drafts quotes", "--organisation", "Acme",
        "--business-owner", "Bea Owner", "--business-email", "bea@acme.example",
        "--technical-owner", "Ted Tech", "--technical-email", "ted@acme.example",
        "--model", "openai/gpt-4.1-mini", "--data-class", "personal",
        "--dpo", "Dee Pee", "--dpo-email", "dpo@acme.example",
        "--tool", "crm.read:read", "--tool", "crm.update:write", "--tool", "email.send:send",
        "--output", output,
    )  # fmt: skip
    assert code == 0, err
    assert "0 errors" in err
    assert run("lint", output)[0] == 0
    # Refuses to overwrite without --force.
    code, _, err = run("init", "--workflow", "x", "--output", output)
    assert code == 2 and "--force" in err


def test_init_asks_for_what_is_missing(tmp_path: Path) -> None:
    output = tmp_path / "runbook.yaml"
    answers = "\n".join(
        [
            "support-bot",
            "Answers tickets",
            "Acme",
            "Bea",
            "bea@acme.example",
            "Ted",
            "ted@acme.example",
            "openai/gpt-4.1",
        ]
    )
    code, out, err = run(
        "init", "--ask", "--tool", "helpdesk.reply:send", "--output", output, input=answers + "\n"
    )
    assert code == 0, out + err
    assert "Workflow id (e.g. support-triage):" in out
    assert "id: support-bot" in output.read_text(encoding="utf-8")


def test_init_without_a_terminal_names_the_missing_flags(tmp_path: Path) -> None:
    code, _, err = run("init", "--workflow", "x", "--output", tmp_path / "r.yaml")
    assert code == 2
    assert "missing --purpose, --organisation, --business-owner" in err


def test_init_with_an_invalid_workflow_id_points_at_it(tmp_path: Path) -> None:
    output = tmp_path / "r.yaml"
    code, out, _ = run(
        "init", "--workflow", "Quote Bot", "--purpose", "p", "--organisation", "o",
        "--business-owner", "B", "--business-email", "b@x.example", "--technical-owner", "T",
        "--technical-email", "t@x.example", "--model", "openai/x", "--output", output,
    )  # fmt: skip
    assert code == 2
    assert "'Quote Bot' cannot be an id" in out


def test_apply_stores_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDON_DATABASE_URL", f"sqlite:///{tmp_path / 'andon.db'}")
    code, out, _ = run("apply", AGENT, "--actor", "dana")
    assert code == 0
    assert out.startswith("applied runbook revision 1 (support-agent; digest ")
    code, out, _ = run("apply", AGENT)
    assert (code, out) == (0, "unchanged: revision 1 already holds this runbook\n")


def test_apply_refuses_a_runbook_with_lint_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDON_DATABASE_URL", f"sqlite:///{tmp_path / 'andon.db'}")
    path = broken_copy(tmp_path, "    kill_switch: [pause_workflow, ", "    kill_switch: [")
    code, out, err = run("apply", path)
    assert code == 1
    assert "AND101" in out and "not applied" in err
    assert not (tmp_path / "andon.db").exists() or "revision" not in out
