#!/usr/bin/env python3
"""Keeps the source tree's shape (docs/architecture.md, "Boundaries"):

  - no source file under compiler/, passes/ or runtime/ over 600 lines;
  - no function over 150 lines (from its header's `{` to its `}`);
  - the code-generation targets are siblings: nothing under
    compiler/codegen/cuda includes compiler/codegen/cpu, and the reverse;
    compiler/codegen/common and compiler/conversion include neither.

Usage: check_layout.py [REPO_ROOT]. Prints each violation; exit 1 if any.
"""
import os
import re
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 150
SOURCE_DIRS = ("compiler", "passes", "runtime")
SOURCE_EXT = (".cpp", ".h", ".cc", ".hpp", ".cu", ".c", ".td")
# folder -> folders its files must not include.
FORBIDDEN_INCLUDES = {
    "compiler/codegen/cuda": ("compiler/codegen/cpu",),
    "compiler/codegen/cpu": ("compiler/codegen/cuda",),
    "compiler/codegen/common": ("compiler/codegen/cpu", "compiler/codegen/cuda"),
    "compiler/conversion": ("compiler/codegen/",),
}

CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else|return)\s*(\(|$)")
SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b[^()]*$")


def strip(text):
    """Comments, string and character literals blanked; newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == 'R' and text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + (m.group(1) if m else "") + '"', i)
            end = n if end < 0 else end + len(m.group(1) if m else "") + 2
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, line count) of every function body that is not
    nested in another function (methods defined in a class count)."""
    text = strip(open(path, encoding="utf-8", errors="replace").read())
    stack = []  # (kind, start line, header)
    header_start, line = 0, 1
    found = []
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            header = " ".join(text[header_start:i].split())
            inside_function = any(k == "function" for k, _, _ in stack)
            if inside_function:
                kind = "block"
            elif SCOPE.search(header) or "(" not in header or header.endswith("="):
                kind = "scope"
            elif CONTROL.search(header.split(")")[-1]):
                kind = "block"
            else:
                kind = "function"
            stack.append((kind, line, header))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind, start, header = stack.pop()
                if kind == "function":
                    name = re.findall(r"([~\w:]+)\s*\(", header)
                    found.append((name[0] if name else header[-40:], start, line - start + 1))
            header_start = i + 1
        elif c == ";":
            header_start = i + 1
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    root = os.path.abspath(root)
    problems = []
    for top in SOURCE_DIRS:
        for folder, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith(SOURCE_EXT):
                    continue
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, root)
                lines = open(path, encoding="utf-8", errors="replace").read().count("\n")
                if lines > MAX_FILE_LINES:
                    problems.append(f"{rel}: {lines} lines (at most {MAX_FILE_LINES})")
                if not f.endswith(".td"):
                    for name, start, count in functions(path):
                        if count > MAX_FUNCTION_LINES:
                            problems.append(f"{rel}:{start}: function '{name}' is {count} "
                                            f"lines (at most {MAX_FUNCTION_LINES})")
                for owner, banned in FORBIDDEN_INCLUDES.items():
                    if not rel.startswith(owner + "/"):
                        continue
                    for n, text in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                        m = re.match(r'\s*#\s*include\s*"([^"]+)"', text)
                        if m and any(m.group(1).startswith(b) for b in banned):
                            problems.append(f"{rel}:{n}: includes {m.group(1)}: {owner} "
                                            f"must not include {', '.join(banned)}")
    for p in problems:
        print(p)
    print(f"check_layout: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
