"""queue.lua as Redis receives it: one script per command, each with only what it runs.

The headers are the contract: each command's KEYS line is what the script binds and
what the queue sends, so a test can hold the two together; the rest keeps the file
readable (no section too long, no definition nobody uses).
"""

from __future__ import annotations

import re

import pytest
import redis

from session5_recovery.workers import RedisTaskQueue
from session5_recovery.workers.keys import QueueKeys
from session5_recovery.workers.lua_scripts import (
    COMMANDS,
    PER_CALL_KEYS,
    QUEUE_LUA_PATH,
    _code_words,
    _sections,
    key_variable,
    load,
)

# Every key a KEYS line may name (the names after "{q}:"), and what the script calls it.
QUEUE_WIDE = [key.removeprefix(QueueKeys("q").prefix) for key in QueueKeys("q").fixed()]
KEY_VARIABLES = {key_variable(key) for key in [*QUEUE_WIDE, *PER_CALL_KEYS]}


def code_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--")]


class TestEachScriptBindsItsHeadersKeys:
    def test_every_key_a_header_names_is_a_key_of_the_queue(self):
        for command in COMMANDS.values():
            unknown = set(command.keys) - set(QUEUE_WIDE) - set(PER_CALL_KEYS)
            assert not unknown, f"{command.name}: KEYS names {unknown}"

    def test_a_script_uses_only_the_keys_its_header_names(self):
        """A key the header leaves out would be a global the script cannot read."""
        for command in COMMANDS.values():
            declared = {key_variable(key) for key in command.keys}
            used = _code_words(command.source) & KEY_VARIABLES
            assert used <= declared, f"{command.name} uses {used - declared}, not in its KEYS line"

    def test_a_header_names_no_key_its_script_leaves_unused(self):
        for command in COMMANDS.values():
            declared = {key_variable(key) for key in command.keys}
            after_binding = command.source.split("\n\n", 2)[2]  # (the arguments, the binding)
            unused = declared - _code_words(after_binding)
            assert not unused, f"{command.name} is sent {unused} and never uses them"

    def test_a_call_with_other_keys_is_refused_before_anything_is_written(self, redis_client):
        for command in COMMANDS.values():
            with pytest.raises(redis.ResponseError) as refused:
                redis_client.eval(command.source, 0, "1", "100", "{q}:")
            assert f"queue.lua {command.name}: expected" in str(refused.value)
            assert ", ".join(command.keys) in str(refused.value)

    def test_the_queue_sends_each_command_the_keys_of_its_header(self, redis_client):
        queue = RedisTaskQueue(client=redis_client, queue_name="lua-keys-contract")
        for name, command in COMMANDS.items():
            sent = [key.decode() for key in queue._queue_keys[name]]
            assert [queue.keys.prefix + key for key in command.queue_keys] == sent
            assert command.keys[:len(sent)] == command.queue_keys, \
                f"{name}: the queue's own keys come first in its KEYS line"


class TestEachScriptHoldsWhatItRuns:
    def test_a_script_holds_only_the_definitions_it_uses(self):
        assert "quarantine" not in _code_words(COMMANDS["heartbeat"].source)
        assert "claim_batch" not in _code_words(COMMANDS["complete"].source)
        assert "claim_batch" in _code_words(COMMANDS["complete_and_claim"].source)

    def test_every_shared_definition_is_used_by_some_command(self):
        shared, _ = _sections(QUEUE_LUA_PATH.read_text())
        used = set().union(*(_code_words(c.source) for c in COMMANDS.values()))
        assert set(shared) <= used, f"never used: {set(shared) - used}"

    def test_no_section_is_longer_than_a_screen(self):
        shared, commands = _sections(QUEUE_LUA_PATH.read_text())
        for name, text in [*shared.items(), *commands.items()]:
            assert len(code_lines(text)) <= 40, f"{name}: {len(code_lines(text))} lines of code"

    def test_every_script_compiles(self, redis_client):
        for command in COMMANDS.values():
            redis_client.script_load(command.source)

    def test_a_section_named_twice_is_refused(self, tmp_path):
        doubled = tmp_path / "queue.lua"
        doubled.write_text("--- emit\nlocal x = 1\n--- emit\nlocal y = 2\n")
        with pytest.raises(ValueError, match="'emit' appears twice"):
            load(doubled)

    def test_a_command_without_a_keys_line_is_refused(self, tmp_path):
        bare = tmp_path / "queue.lua"
        bare.write_text("--- command ping\n-- REPLY: {'pong'}\nreturn {'pong'}\n")
        with pytest.raises(ValueError, match="'ping' has no KEYS line"):
            load(bare)

    def test_keys_lines_may_go_on_over_several_comment_lines(self):
        claim = COMMANDS["claim"]
        assert claim.keys[-2:] == ("processing:<w>", "worker:<w>")
        assert re.search(r"^-- KEYS:.*\n--\s{2,}", claim.header, re.MULTILINE)
