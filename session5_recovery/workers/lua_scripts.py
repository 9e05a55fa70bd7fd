"""queue.lua as Redis receives it: one script per command.

The file is written for people: shared definitions first (each under ``--- <name>``),
then the commands (each under ``--- command <name>``) with a header saying its KEYS,
ARGS, REPLY and status moves. Redis is sent, per command, only what that command
runs, because a script's set-up is paid on every call: defining every helper of
every command, and finding twenty keys by name, cost more server time than the
claim itself. Each command's script is:

1. the binding of its KEYS by name, generated from its header's KEYS line, behind
   a check of how many keys came (a caller that sends the wrong keys is told so,
   instead of the script writing to the wrong key);
2. the shared definitions its section uses, found by name, with those they use in
   turn, in file order (a definition comes before its users in the file);
3. its section.

``COMMANDS`` is read once, when this module is imported; the queue registers each
command's source with redis-py, which sends it by SHA1 (EVALSHA).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

QUEUE_LUA_PATH = Path(__file__).with_name("queue.lua")

# The arguments every command receives first (ARGV[1..3]); its own start at ARGV[4].
_COMMON_ARGS = "local now, events_maxlen, prefix = ARGV[1], ARGV[2], ARGV[3]"
# Keys given per call rather than per queue, and the name the script knows them by.
PER_CALL_KEYS = {"processing:<w>": "MINE", "worker:<w>": "BEAT", "task:<id>": "TASK",
                 "task:<id>...": "TASK_KEYS"}
_MARKER = re.compile(r"^--- (command )?([A-Za-z_]\w*)\s*$")
_WORD = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Command:
    """One command of queue.lua: its header, its KEYS, and the script Redis receives."""

    name: str
    keys: tuple[str, ...]  # as its KEYS line names them, in order
    header: str  # its comment lines (what it does, KEYS, ARGS, REPLY, Status)
    source: str  # the whole script sent to Redis

    @property
    def queue_keys(self) -> tuple[str, ...]:
        """The keys that are the same for every call on one queue (sent first)."""
        return tuple(key for key in self.keys if key not in PER_CALL_KEYS)

    @property
    def variadic(self) -> bool:
        """True if the call ends with any number of task keys (TASK_KEYS)."""
        return bool(self.keys) and self.keys[-1] == "task:<id>..."


def key_variable(key: str) -> str:
    """The name a script calls a key by: pending:high -> PENDING_HIGH, processing:<w> -> MINE."""
    return PER_CALL_KEYS.get(key) or key.replace(":", "_").upper()


def _code_words(text: str) -> set[str]:
    """The names used in Lua code, comments and strings left out."""
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
    return set(_WORD.findall(code))


def _sections(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(shared definitions, commands), each name -> its text, in file order."""
    shared: dict[str, str] = {}
    commands: dict[str, str] = {}
    current: dict[str, str] | None = None
    name = ""
    for line in text.splitlines(keepends=True):
        marker = _MARKER.match(line)
        if marker:
            current = commands if marker.group(1) else shared
            name = marker.group(2)
            if name in shared or name in commands:
                raise ValueError(f"queue.lua: section {name!r} appears twice")
            current[name] = ""
        elif current is not None:
            current[name] += line
    return shared, commands


def _header_keys(name: str, body: str) -> tuple[tuple[str, ...], str]:
    """The KEYS its header names (the line may go on in the next comment lines), and the header."""
    header_lines = []
    for line in body.splitlines():
        if not line.startswith("--"):
            break
        header_lines.append(line)
    header = "\n".join(header_lines)
    found = re.search(r"^-- KEYS:(.*(?:\n--\s{2,}.*)*)", header, re.MULTILINE)
    if not found:
        raise ValueError(f"queue.lua: command {name!r} has no KEYS line in its header")
    text = found.group(1).replace("\n--", " ")
    return tuple(key.strip() for key in text.split(",") if key.strip()), header


def _binding(name: str, keys: tuple[str, ...]) -> str:
    """Lua lines binding KEYS by name, after a check of how many came."""
    fixed = keys[:-1] if keys and keys[-1] == "task:<id>..." else keys
    compare, wanted = ("<", f"at least {len(fixed)}") if len(fixed) < len(keys) \
        else ("~=", str(len(fixed)))
    lines = [f'if #KEYS {compare} {len(fixed)} then return redis.error_reply('
             f'"queue.lua {name}: expected {wanted} keys ({", ".join(keys)}), got " .. #KEYS) end']
    if fixed:
        names = ", ".join(key_variable(key) for key in fixed)
        values = ", ".join(f"KEYS[{i}]" for i in range(1, len(fixed) + 1))
        lines.append(f"local {names} = {values}")
    if len(fixed) < len(keys):  # (a loop: nothing whose size the caller chooses is unpacked)
        lines.append(f"local TASK_KEYS = {{}} for i = {len(fixed) + 1}, #KEYS do "
                     f"TASK_KEYS[#TASK_KEYS + 1] = KEYS[i] end")
    return "\n".join(lines)


def _needed(body: str, shared: dict[str, str]) -> list[str]:
    """The shared definitions ``body`` uses, directly or through one another, in file order."""
    needed: set[str] = set()
    todo = [body]
    while todo:
        for word in _code_words(todo.pop()) & shared.keys() - needed:
            needed.add(word)
            todo.append(shared[word])
    return [name for name in shared if name in needed]


def load(path: Path = QUEUE_LUA_PATH) -> dict[str, Command]:
    """Every command of queue.lua, by name, with the script Redis receives for it."""
    shared, commands = _sections(path.read_text(encoding="utf-8"))
    loaded = {}
    for name, body in commands.items():
        keys, header = _header_keys(name, body)
        parts = [_COMMON_ARGS, _binding(name, keys),
                 *(shared[used].strip("\n") for used in _needed(body, shared)), body.strip("\n")]
        loaded[name] = Command(name, keys, header, "\n\n".join(parts) + "\n")
    return loaded


COMMANDS: dict[str, Command] = load()
