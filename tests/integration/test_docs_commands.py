"""Every command the docs tell a user to run parses: README.md, docs/DEPLOY.md, docs/OPERATIONS.md
and docs/sources/*.md, in code blocks and inline code.

- ``ciohooks ...`` (or ``.venv/bin/ciohooks``): the CLI's own parser accepts it, and every project
  file it names exists;
- ``make TARGET``: the Makefile has the target;
- ``sam ...`` (or ``.venv-sam/bin/sam``): the SAM CLI of .venv-sam has the subcommand and every flag;
- a stack output the docs name (``SendGridWebhookUrl``, ``<VideoIngestFunctionUrl>``) is in
  template.yaml's Outputs;
- web/examples/*.html post to a route that exists with a local-only write key.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from ciohooks import sources
from ciohooks.cli import UsageError, build_parser
from ciohooks.samples import local_keys
from tests.support import REPO_ROOT, require

pytestmark = pytest.mark.integration

GUIDES = [REPO_ROOT / "README.md", REPO_ROOT / "docs" / "DEPLOY.md", REPO_ROOT / "docs" / "OPERATIONS.md", *sorted((REPO_ROOT / "docs" / "sources").glob("*.md"))]
PROGRAMS = {"ciohooks": "ciohooks", ".venv/bin/ciohooks": "ciohooks", "make": "make", "sam": "sam", ".venv-sam/bin/sam": "sam"}
OUTPUT_NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:WebhookUrl|FunctionUrl|QueueUrl|QueueArn|TableName|Command))\b")


def commands_in(text: str) -> list[str]:
    """Command lines of fenced blocks (continuations joined) and of inline code spans."""
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            found.append((line.strip(), False))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found.extend((span.strip(), True) for span in re.findall(r"`([^`\n]+)`", prose))
    commands = []
    for line, inline in found:
        for part in re.split(r"&&|;|\|(?!\|)", line):  # `sam build && sam deploy`, pipes
            words = re.sub(r"\s[12]?>\s*\S+", "", part).strip().split()  # `... > env.json`
            while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value before the command
                words.pop(0)
            if words and words[0] in PROGRAMS and len(words) > 1 and is_command(words, inline):
                commands.append(" ".join(words))
    return commands


def is_command(words: list[str], inline: bool) -> bool:
    """Inline code names a command (`ciohooks send`, `ciohooks send --key`, `ciohooks dlq ...`) as
    often as it shows one: only a complete one is checked."""
    if "..." in words:
        return False
    return not inline or len(words) >= 4 or (len(words) == 3 and not words[2].startswith("-"))


def words_of(command: str) -> list[str]:
    command = re.sub(r"<[^>]*>", "PLACEHOLDER", command)  # <file holding the key>, <DeadLetterQueueUrl>
    return shlex.split(command.replace("…", "..."), comments=True)


CASES = [(guide.relative_to(REPO_ROOT).as_posix(), command) for guide in GUIDES for command in commands_in(guide.read_text())]


def test_the_docs_have_commands_to_check() -> None:
    assert sum(1 for _, c in CASES if words_of(c)[0].endswith("ciohooks")) >= 30
    assert any(words_of(c)[0].endswith("sam") for _, c in CASES)


@pytest.mark.parametrize("guide,command", [c for c in CASES if words_of(c[1])[0].endswith("ciohooks")], ids=lambda v: v[:90])
def test_every_ciohooks_command_parses(guide: str, command: str) -> None:
    words = words_of(command)[1:]
    try:
        build_parser().parse_args(words)
    except UsageError as error:
        pytest.fail(f"{guide}: `{command}`: {error}")
    except SystemExit as done:  # --help
        assert done.code == 0, f"{guide}: `{command}` exits {done.code}"
    for word in words:
        if re.match(r"^(events|web|docs|functions|shared)/\S+$", word) and "PLACEHOLDER" not in word:
            assert (REPO_ROOT / word).exists(), f"{guide}: `{command}` names {word}, which does not exist"


@lru_cache(maxsize=None)
def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", (REPO_ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("guide,command", [c for c in CASES if words_of(c[1])[0] == "make"], ids=lambda v: v[:90])
def test_every_make_command_has_its_target(guide: str, command: str) -> None:
    targets = [w for w in words_of(command)[1:] if "=" not in w and not w.startswith("-")]
    for target in targets:
        assert target in make_targets(), f"{guide}: `{command}`: no target {target} in the Makefile"


@lru_cache(maxsize=None)
def sam_options() -> dict[str, set[str]]:
    """Each SAM CLI (sub)command of .venv-sam and its options, from its click tree."""
    python = REPO_ROOT / ".venv-sam" / "bin" / "python"
    require(".venv-sam", not python.exists(), "run `make setup`")
    code = """
import json, click
from samcli.cli.main import cli
out = {}
def walk(command, path):
    ctx = click.Context(command, info_name=" ".join(path), obj=True)  # samcli imports a command only with a context object
    if isinstance(command, click.MultiCommand):
        for name in command.list_commands(ctx):
            walk(command.get_command(ctx, name), path + [name])
    else:
        out[" ".join(path)] = sorted({o for p in command.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])})
walk(cli, [])
print(json.dumps(out))
"""
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "SAM_CLI_TELEMETRY": "0", "HOME": "/tmp"})
    assert run.returncode == 0, run.stderr[-2000:]
    return {name: set(options) for name, options in json.loads(run.stdout).items()}


@pytest.mark.parametrize("guide,command", [c for c in CASES if words_of(c[1])[0].endswith("sam")], ids=lambda v: v[:90])
def test_every_sam_command_has_its_subcommand_and_flags(guide: str, command: str) -> None:
    words = words_of(command)[1:]
    options = sam_options()
    path = []
    while words and not words[0].startswith("-") and " ".join(path + [words[0]]) in {" ".join(k.split()[: len(path) + 1]) for k in options}:
        path.append(words.pop(0))
    assert " ".join(path) in options, f"{guide}: `{command}`: sam has no command {' '.join(path) or words[:1]}"
    for word in words:
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            assert flag in options[" ".join(path)], f"{guide}: `{command}`: sam {' '.join(path)} has no option {flag}"


@lru_cache(maxsize=None)
def template_outputs() -> set[str]:
    from ciohooks.invoke import load_template

    return set(load_template(REPO_ROOT / "template.yaml")["Outputs"])


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_stack_output_the_docs_name_exists(guide: Path) -> None:
    named = set(OUTPUT_NAME.findall(guide.read_text()))
    missing = sorted(named - template_outputs())
    assert not missing, f"{guide.relative_to(REPO_ROOT)} names outputs template.yaml does not have: {missing}"


@pytest.mark.parametrize("page", sorted((REPO_ROOT / "web" / "examples").glob("*.html")), ids=lambda p: p.name)
def test_the_example_pages_post_to_a_route_with_a_local_key(page: Path) -> None:
    text = page.read_text()
    routes = {name.split("/", 1)[1] for name in sources.names("video")}
    keys = local_keys(REPO_ROOT / "events" / "keys")["CIOHOOKS_VIDEO_WRITE_KEYS"].split(",")
    assert re.search(r"endpoint: 'http://127\.0\.0\.1:3000'", text)
    assert re.search(r"player: '(\w+)'", text).group(1) in routes
    assert re.search(r"writeKey: '([^']+)'", text).group(1) in keys
    assert '<script src="../cio-video-tracker.js"></script>' in text
