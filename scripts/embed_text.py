#!/usr/bin/env python3
"""embed_text.py IN OUT NAME: writes OUT, a C file defining `const char NAME[]` with the text
of IN, less its full-line '#' comments (used by CMake to embed src/ci/pyrun.py)."""
import sys

src, out, name = sys.argv[1:4]
lines = [l for l in open(src, encoding="utf-8").read().split("\n")
         if not l.lstrip().startswith("#")]
text = "\n".join(lines).rstrip("\n") + "\n"
with open(out, "w", encoding="utf-8") as f:
    f.write("/* Generated from %s by scripts/embed_text.py: edit that file. */\n" % src)
    f.write("const char %s[] =\n" % name)
    for line in text.splitlines(keepends=True):
        esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        f.write('    "%s"\n' % esc)
    f.write(";\n")
