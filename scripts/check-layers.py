#!/usr/bin/env python3
"""Checks that the module's layers depend one way (docs/design.md).

Every Rust file of the module belongs to a layer; a file may name
(`crate::NAME`, or NAME inside a `use crate::{...}` list) only modules of
its own layer or of a lower one. The C glue likewise includes only its own
folder's headers or a lower layer's (`modules/` C is wrapper glue). Prints
each violation as FILE:LINE and exits 1 if there is any. Run by
`make test-unit`.
"""
import pathlib
import re
import sys

# Lowest first. A module name is the first segment after `crate::`.
LAYERS = [
    ("pure logic", ["proto", "extra"]),
    ("kernel wrappers", ["kernel_ext", "configfs", "procfs", "kthread", "ctl_reply", "pid_hook", "proc_root", "pid_files", "kill_hook", "exec_hook"]),
    ("krpc", ["krpc"]),
    ("node settings", ["identity"]),
    ("cluster service", ["cluster", "krpc_bench"]),
    ("checkpoint", ["checkpoint"]),
    ("migration", ["migration"]),
    ("process space", ["procspace"]),
    ("scheduler", ["scheduler"]),
    ("high availability", ["ha"]),
    ("control device and composition root", ["node", "ctl_device", "ssi_main"]),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def layer_of(path: pathlib.Path) -> str:
    """The module a file is part of: its folder, or its own name in modules/."""
    folder = path.parts[0]
    return path.stem if folder == "modules" else folder


def strip_comments(text: str) -> str:
    """Removes // comments (doc comments too) and string literals."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return re.sub(r"//[^\n]*", "", text)


def named_modules(text: str):
    """(line, module) for every crate-level module the code names."""
    for m in re.finditer(r"\bcrate::(\w+)", text):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)
    # The first segments of a `use crate::{a::x, b, c::{..}}` list.
    for m in re.finditer(r"\bcrate::\{", text):
        depth, i, start = 1, m.end(), m.end()
        at_segment = True
        while i < len(text) and depth:
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 1:
                at_segment = True
            elif depth == 1 and at_segment and (c.isalpha() or c == "_"):
                word = re.match(r"\w+", text[i:]).group(0)
                yield text.count("\n", 0, i) + 1, word
                at_segment = False
                i += len(word)
                continue
            i += 1


def main() -> int:
    top = pathlib.Path(__file__).resolve().parent.parent
    files = [p for folder in ("modules", "krpc", "checkpoint", "migration", "procspace", "scheduler", "ha") for p in (top / folder).glob("*.rs")]
    bad = 0
    for path in sorted(files):
        rel = path.relative_to(top)
        if rel.name in ("extra_bindings.rs", "proto.rs"):
            continue
        own = layer_of(rel)
        if own not in RANK:
            print(f"{rel}: not in any layer of scripts/check-layers.py")
            bad += 1
            continue
        for line, name in named_modules(strip_comments(path.read_text())):
            if name in RANK and RANK[name] > RANK[own]:
                print(f"{rel}:{line}: {own} ({LAYERS[RANK[own]][0]}) names {name} ({LAYERS[RANK[name]][0]}), a layer above it")
                bad += 1
    for path in sorted(p for folder in ("modules", "krpc", "checkpoint", "migration", "procspace", "scheduler", "ha") for ext in ("c", "h")
                       for p in (top / folder).glob(f"*.{ext}")):
        rel = path.relative_to(top)
        if rel.name == "extra.h":
            continue  # bindgen's one input: it gathers every layer's header
        own = "kernel_ext" if rel.parts[0] == "modules" else rel.parts[0]
        for i, text in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"\.\./(\w+)/', text)
            if m:
                name = "kernel_ext" if m.group(1) == "modules" else m.group(1)
                if name in RANK and RANK[name] > RANK[own]:
                    print(f"{rel}:{i}: C glue of {own} includes {m.group(1)}/, a layer above it")
                    bad += 1
    if bad:
        print(f"check-layers: {bad} dependencies against the layer order (docs/design.md)")
        return 1
    print(f"check-layers: {len(files)} files, every dependency goes down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
