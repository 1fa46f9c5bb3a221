"""Every `nesy ...` command in the README's (and docs') shell blocks names a real
subcommand and only flags that subcommand has: the reference cannot drift from the CLI."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from nesy.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|\$\([^)]*\)")


def shell_commands(path: Path) -> list[str]:
    """`nesy ...` lines in a Markdown file's bash blocks, continuation lines joined."""
    out, lang, buf = [], None, ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("```"):
            lang = None if lang is not None else (line[3:].strip() or "text")
            continue
        if lang not in ("bash", "sh"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        cmd, buf = (buf + line).split(" #")[0].strip(), ""
        if cmd.startswith("nesy "):
            out.append(cmd)
    return out


def words(cmd: str) -> list[str]:
    """The command's words, quoted arguments and $(...) as one placeholder each; an
    argument whose quote closes on a later line ends the command."""
    flat = QUOTED.sub(" ARG ", cmd)
    return flat.split('"')[0].split("'")[0].split()


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


COMMANDS = [
    (path.name, cmd)
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for cmd in shell_commands(path)
]


def test_the_readme_has_commands_to_check():
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("where,cmd", COMMANDS)
def test_a_documented_command_parses(where, cmd):
    parser, rest = build_parser(), words(cmd)[1:]
    chain = ["nesy"]
    while rest and rest[0] in subparsers(parser):
        chain.append(rest[0])
        parser = subparsers(parser)[rest.pop(0)]
    assert not subparsers(parser), f"{where}: `{cmd}` stops before a subcommand of {chain}"
    known = set(parser._option_string_actions)
    unknown = [w.split("=")[0] for w in rest if w.startswith("-") and w.split("=")[0] not in known]
    assert not unknown, f"{where}: `{cmd}`: {' '.join(chain)} has no {unknown}"


# `python -m training.X` and `python bench/{perf,probes}/X.py` in the same blocks: each must
# at least answer --help (a moved or renamed module fails here, not in a reader's shell).
SCRIPT = re.compile(r"python (-m [a-z_.]+|bench/(?:perf|probes)/[a-z_]+\.py)")
SCRIPTS = sorted(
    {
        m
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for m in SCRIPT.findall(path.read_text())
    }
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_documented_script_answers_help(script):
    import subprocess
    import sys

    args = script.split() if script.startswith("-m") else [str(ROOT / script)]
    out = subprocess.run(
        [sys.executable, *args, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0 and "usage" in out.stdout.lower(), (script, out.stderr[-500:])
