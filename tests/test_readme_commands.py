"""Every command a README tells you to paste works when pasted.

Each fenced ```bash (or sh, shell, console: its `$ ` lines) block of every Markdown file is checked:

- the whole block must parse as bash (``bash -n``): a stray ``(or, inside ...)`` or a
  ``<placeholder>`` outside a comment is a syntax error or a redirect once pasted;
- each command is checked as far as is cheap and safe:
  - ``python file.py ...`` and ``python -m module ...``: the file or module exists,
    and every ``--flag`` used appears in its ``--help``;
  - ``python -c CODE``: the code compiles;
  - ``pytest ...``: ``pytest --collect-only`` accepts the same arguments (paths,
    markers, options) and finds tests;
  - ``make target``: the Makefile has the target; ``cd folder``: the folder exists;
  - anything else (``redis-cli``, ``docker``, ``kill``, ...): the syntax check only.

Nothing is run for real here: the demos themselves have their own tests.

A block of commands without a language (an opening fence alone) is not checked, so it
must say ``bash``. A line with a ``<placeholder>`` to replace is checked only for
its program (it is not meant to be pasted as it is).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from workshop.exercise_runner import LEAN_PYTEST_ENV
from workshop.paths import REPO_ROOT

SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>")
# The first word of a line that is a command, for spotting unlabelled command blocks.
COMMAND_WORDS = {"python", "python3", "pytest", "make", "pip", "cd", "source", "redis-cli",
                 "docker", "kill", "jupyter", "export", "unset"}


def reads_its_arguments(script: Path) -> bool:
    """Does the script parse ``sys.argv``? One that does not would *run* on ``--help``."""
    source = script.read_text(encoding="utf-8")
    return "parse_args(" in source and "else [])" not in source
# `python -m workshop bench|notebooks` pass their options on to these modules.
PASSED_ON = {"bench": "workshop.bench", "notebooks": "workshop.notebooks"}


def markdown_files() -> list[Path]:
    skip = {".venv", "output", ".git", "node_modules"}
    return sorted(p for p in REPO_ROOT.rglob("*.md") if not skip & set(p.relative_to(REPO_ROOT).parts))


@dataclass
class Block:
    file: Path
    line: int  # where the block starts, for the failure message
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(REPO_ROOT)}:{self.line}"

    @property
    def script(self) -> str:
        """What a reader would paste: in a ``console`` block only the ``$ `` lines (and
        their ``\\`` continuations); the rest of such a block is the output shown."""
        if self.language != "console":
            return self.text
        kept, continued = [], False
        for line in self.text.splitlines():
            if line.startswith("$ ") or continued:
                kept.append(line[2:] if line.startswith("$ ") and not continued else line)
                continued = line.rstrip().endswith("\\")
        return "\n".join(kept)


def blocks() -> list[Block]:
    found = []
    for path in markdown_files():
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(path, line, match.group(1).lower(), match.group(2)))
    return found


BLOCKS = blocks()
SHELL_BLOCKS = [b for b in BLOCKS if b.language in SHELL_LANGUAGES]


def command_lines(block: Block) -> list[str]:
    """The block's lines with continuations joined, without blank and comment-only lines."""
    lines, pending = [], ""
    for raw in block.script.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def simple_commands(line: str) -> list[list[str]]:
    """``a && b; c | d`` -> [[a...], [b...], [c...], [d...]], comments and NAME=value dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in lexer:
        if token and set(token) <= set(";&|"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    cleaned = []
    for words in commands:
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]  # REDIS_URL=... python ...: the environment of one command
        if words:
            cleaned.append(words)
    return cleaned


def test_there_are_shell_blocks_to_check():
    assert len(SHELL_BLOCKS) > 10, [b.where for b in SHELL_BLOCKS]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language == ""], ids=lambda b: b.where)
def test_a_block_of_commands_says_it_is_bash(block: Block):
    first = next((line.split()[0] for line in block.script.splitlines() if line.strip()), "")
    assert first not in COMMAND_WORDS, (
        f"{block.where}: this block starts with the command {first!r} but has no language; "
        f"open it with ```bash so it is checked (and shown as commands)")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for the syntax check")
@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda b: b.where)
def test_the_block_parses_as_bash(block: Block):
    lines = [line for line in block.script.splitlines() if not PLACEHOLDER.search(line.split("#")[0])]
    result = subprocess.run(["bash", "-n"], input="\n".join(lines) + "\n", capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, f"{block.where}: pasted into bash this is a syntax error:\n" \
                                   f"{block.text}\n{result.stderr}"


def _python_target(words: list[str], block: Block) -> tuple[list[str], Path] | None:
    """(the command that prints the help, the folder to run it in) for a python command."""
    args = words[1:]
    if args[:1] == ["-c"]:  # a one-liner: it must at least be valid Python
        compile(args[1], f"{block.where}: python -c", "exec")
        return None
    if args[:1] == ["-m"]:
        module, rest = args[1], args[2:]
        if module == "workshop" and rest and rest[0] in PASSED_ON:
            module, rest = PASSED_ON[rest[0]], rest[1:]
        assert importlib.util.find_spec(module) is not None, \
            f"{block.where}: `python -m {module}`: no module {module!r}"
        prefix = []
        for word in rest:
            if word.startswith("-"):
                break
            prefix.append(word)
        return [sys.executable, "-m", module, *prefix, "--help"], REPO_ROOT
    script = args[0]
    for folder in (REPO_ROOT, block.file.parent):  # from the root, or from inside the session
        if (folder / script).is_file():
            if not args[1:]:
                return None  # no options to check: that the file exists is enough
            assert reads_its_arguments(folder / script), \
                f"{block.where}: {script} reads no command-line options, yet the README passes some"
            prefix = [w for w in args[1:] if not w.startswith("-")][:1]
            return [sys.executable, script, *prefix, "--help"], folder
    raise AssertionError(f"{block.where}: `python {script}`: no such file (from the repository "
                         f"root, nor from {block.file.parent.relative_to(REPO_ROOT)}/)")


def _check_python(words: list[str], block: Block, helps: dict) -> None:
    target = _python_target(words, block)
    if target is None:
        return
    command, folder = target
    key = (tuple(command), folder)
    if key not in helps:
        helps[key] = subprocess.run(command, cwd=folder, capture_output=True, text=True,
                                    timeout=120)
    shown = helps[key]
    assert shown.returncode == 0 and "usage" in shown.stdout.lower(), (
        f"{block.where}: `{' '.join(command[1:])}` should print its usage:\n"
        f"{shown.stdout[-1500:]}{shown.stderr[-1500:]}")
    for flag in (w.split("=", 1)[0] for w in words if w.startswith("--")):
        assert flag in shown.stdout, (
            f"{block.where}: `{' '.join(words)}` uses {flag}, which its --help does not list:\n"
            f"{shown.stdout[-2000:]}")


@functools.cache
def _collect(args: tuple[str, ...]) -> subprocess.CompletedProcess:
    """``pytest --collect-only`` with these arguments, once per run (READMEs repeat some)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, **LEAN_PYTEST_ENV})


def _check_pytest(words: list[str], block: Block) -> None:
    result = _collect(tuple(w for w in words[1:] if w not in ("-x", "-s", "-v", "-q")))
    assert result.returncode == 0, (f"{block.where}: `{' '.join(words)}` does not even collect:\n"
                                    f"{result.stdout[-2000:]}{result.stderr[-2000:]}")


MAKE_TARGETS = set(re.findall(r"^([A-Za-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), re.M))


def check_command(words: list[str], block: Block, line: str, helps: dict) -> None:
    program = words[0]
    if PLACEHOLDER.search(line):
        return  # a template to fill in: the parse test skipped it, its program is checked below
    if program in ("python", "python3") or program.endswith(("/python", "\\python")):
        _check_python(words, block, helps)
    elif program == "pytest":
        _check_pytest(words, block)
    elif program == "make":
        for target in (w for w in words[1:] if "=" not in w and not w.startswith("-")):
            assert target in MAKE_TARGETS, f"{block.where}: `make {target}`: no such target"
    elif program == "cd":
        folder = words[1] if len(words) > 1 else "~"
        assert folder == "~" or (REPO_ROOT / folder).is_dir() or (block.file.parent / folder).is_dir(), \
            f"{block.where}: `cd {folder}`: no such folder"
    elif program == "jupyter":
        assert importlib.util.find_spec("jupyterlab") is not None, \
            f"{block.where}: `jupyter` is not installed: requirements.txt should bring it"
        for path in (w for w in words[2:] if not w.startswith("-")):
            assert (REPO_ROOT / path).exists(), f"{block.where}: `{line}`: no {path}"
    elif program in ("pip", ".venv/bin/pip") and "-r" in words:
        requirements = words[words.index("-r") + 1]
        assert (REPO_ROOT / requirements).is_file(), f"{block.where}: no {requirements}"


@pytest.mark.slow
@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda b: b.where)
def test_each_command_of_the_block_exists_with_its_options(block: Block):
    helps: dict = {}
    for line in command_lines(block):
        try:
            commands = simple_commands(PLACEHOLDER.sub("X", line))
        except ValueError as error:  # an unclosed quote
            raise AssertionError(f"{block.where}: cannot read `{line}`: {error}") from None
        for words in commands:
            check_command(words, block, line, helps)


def test_the_checker_catches_what_a_paste_would_break(tmp_path):
    """The checks can fail: a missing script, a flag that does not exist, a bad target."""
    readme = REPO_ROOT / "README.md"
    cases = {
        "python session1_basics/demos/no_such_demo.py": "no such file",
        "python -m session4_redis.workers enqueue --no-such-flag 3": "--no-such-flag",
        "make no-such-target": "no such target",
        "python -m no_such_module_here": "no module",
    }
    for line, expected in cases.items():
        block = Block(readme, 1, "bash", line + "\n")
        with pytest.raises(AssertionError, match=re.escape(expected)):
            for words in simple_commands(line):
                check_command(words, block, line, {})
    assert simple_commands("A=1 python x.py --n 2 && make demo  # note") == [
        ["python", "x.py", "--n", "2"], ["make", "demo"]]
