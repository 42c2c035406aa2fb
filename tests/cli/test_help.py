"""``--help`` as people read it: at 80 columns, with the text as written (issue 15)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kconsume.cli import app

runner = CliRunner()

COMMANDS = sorted(app.registered_commands, key=lambda c: c.name or "")
NAMES = [c.name for c in COMMANDS if c.name]
DOCS = Path(__file__).parents[2] / "docs"


def help_text(*args: str, columns: int = 80) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_square_brackets_are_text_not_markup() -> None:
    assert "pip install 'kconsume[broker]'" in help_text("broker")


@pytest.mark.parametrize("command", NAMES)
def test_usage_and_types_read_as_words(command: str) -> None:
    text = help_text(command)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage
    assert "<bool>" not in text
    assert "<list[" not in text


def test_arguments_are_named_as_in_the_docs() -> None:
    assert "Usage: kconsume tail [OPTIONS] TOPIC..." in help_text("tail")
    assert "Usage: kconsume peek [OPTIONS] GROUP TOPIC[:PARTITION]" in help_text("peek")


@pytest.mark.parametrize("command", NAMES)
def test_descriptions_wrap_to_the_terminal_not_at_the_source_lines(command: str) -> None:
    """Every line of a paragraph is as full as it can be: a line ends early only where
    its paragraph does (the source's line breaks are gone)."""
    top = help_text(command).split("╭")[0]
    lines = [line.rstrip() for line in top.splitlines()]
    for line, after in itertools.pairwise(lines):
        if not line.strip() or not after.strip() or "Usage:" in line:
            continue
        next_word = after.split()[0]
        assert len(line) + 1 + len(next_word) > 79, f"{line!r} is cut short before {after!r}"


def test_tail_help_names_every_key_of_the_dashboard() -> None:
    text = " ".join(help_text("tail", columns=200).split())
    for key in ("p pause", "/ search", "f filter", "o jump", "b the record blocking a commit",
                "c commit now", "g consumer groups", "? help", "q quit"):  # fmt: skip
        assert key in text, key


@pytest.mark.parametrize("option", ["--where", "--header", "--grep", "-X", "--partition"])
def test_repeatable_options_say_so(option: str) -> None:
    text = help_text("consume", columns=200)
    # the option's own row: its name in the names column, not in another row's help
    line = next(
        line for line in text.splitlines() if re.search(rf"\s{re.escape(option)}\s", line[:32])
    )
    assert "epeatable" in line, line


def test_the_kafka_table_of_the_docs_lists_every_kafka_option() -> None:
    """docs/cli.md's Kafka table and the Kafka panel of ``consume --help`` agree."""
    text = help_text("consume", columns=200)
    panel = text.split("─ Kafka ")[1].split("╰")[0]
    options = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", panel))
    doc = (DOCS / "cli.md").read_text()
    table = doc.split("### Kafka")[1].split("```")[0]
    missing = [o for o in sorted(options) if f"`{o}" not in table and f" {o}`" not in table]
    assert missing == []
