#!/usr/bin/env python3
"""The Python Headroom on this corpus, for comparison with `--example corpus`.

Runs `headroom.compress` (the `headroom-ai` package's own "full compression pipeline", default
configuration, as a user of its SDK gets it) on every output of `manifest.json` in two client
shapes (a Claude Code `tool_result` string after the `tool_use` that ran the command, and an
OpenAI chat `role: tool` message), and prints per class: cl100k tokens of the tool output
before and after, facts kept in view (a fact counts where the output names it, as in
`corpus/harness.rs`) and compression time.

Usage (see docs/compression.md):
    python3 -m venv /tmp/pyhr && /tmp/pyhr/bin/pip install headroom-ai==0.28.0 tiktoken
    TIKTOKEN_CACHE_DIR=... /tmp/pyhr/bin/python corpus/python_headroom.py [--entries]

tiktoken downloads its cl100k table on first use; offline, point TIKTOKEN_CACHE_DIR at a
directory holding the table under the SHA-1 of its URL (tiktoken-rs ships the same file).
"""

import json
import os
import re
import sys
import time
from collections import defaultdict

import headroom
import tiktoken

HERE = os.path.dirname(os.path.abspath(__file__))
ENC = tiktoken.get_encoding("cl100k_base")


def tokens(text):
    return len(ENC.encode(text, disallowed_special=()))


def names(text, fact):
    """The fact as a word of its own, as the Rust harness counts it."""
    return re.search(r"(?<![\w])" + re.escape(fact) + r"(?![\w])", text) is not None


def shapes(entry, output):
    question = entry.get("question") or "run `%s`" % entry["command"]
    yield "cc_string", [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "Bash",
                    "input": {"command": entry["command"]},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": output}],
        },
    ], lambda m: m[2]["content"][0]["content"]
    yield "openai_chat", [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_01",
                    "type": "function",
                    "function": {
                        "name": "shell",
                        "arguments": json.dumps({"command": entry["command"]}),
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_01", "content": output},
    ], lambda m: m[2]["content"]


def main():
    manifest = json.load(open(os.path.join(HERE, "manifest.json")))
    per_class = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0])
    per_shape = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0])
    rows = []
    for entry in manifest["entries"]:
        path = os.path.join(HERE, "outputs", entry["name"] + ".txt")
        output = open(path, encoding="utf-8", errors="replace").read()
        before = tokens(output)
        facts = [f for f in entry["facts"] if names(output, f)]
        for shape, messages, tool_text in shapes(entry, output):
            start = time.perf_counter()
            result = headroom.compress(messages, model="claude-sonnet-4-5-20250929")
            took = time.perf_counter() - start
            after_text = tool_text(result.messages)
            if not isinstance(after_text, str):
                after_text = json.dumps(after_text)
            after = tokens(after_text)
            kept = sum(1 for f in facts if f in after_text)
            for acc in (per_class[entry["class"]], per_shape[shape]):
                acc[0] += 1
                acc[1] += before
                acc[2] += after
                acc[3] += kept
                acc[4] += len(facts)
                acc[5] += took
            if shape == "cc_string":
                rows.append((entry["name"], entry["class"], before, after, kept, len(facts)))

    def table(title, groups):
        print("| %s | n | tool-output tokens before | after | saved | facts kept (in view) | time (ms, total) |" % title)
        print("|---|---:|---:|---:|---:|---:|---:|")
        total = [0, 0, 0, 0, 0, 0.0]
        for name in sorted(groups):
            g = groups[name]
            total = [a + b for a, b in zip(total, g)]
            print(row(name, g))
        print(row("**all**", total))
        print()

    def row(name, g):
        saved = 100.0 * (1 - g[2] / g[1]) if g[1] else 0.0
        return "| %s | %d | %d | %d | %.1f %% | %d/%d | %.0f |" % (
            name, g[0], g[1], g[2], saved, g[3], g[4], g[5] * 1000)

    print("Python Headroom %s (headroom.compress, default configuration) on %d outputs, 2 shapes.\n"
          % (headroom.__version__, len(manifest["entries"])))
    table("class", per_class)
    table("client shape", per_shape)
    if "--entries" in sys.argv:
        print("| entry | class | tokens before | after | saved | facts |")
        print("|---|---|---:|---:|---:|---:|")
        for name, cls, before, after, kept, n in rows:
            saved = 100.0 * (1 - after / before) if before else 0.0
            print("| %s | %s | %d | %d | %.1f %% | %d/%d |" % (name, cls, before, after, saved, kept, n))


if __name__ == "__main__":
    main()
