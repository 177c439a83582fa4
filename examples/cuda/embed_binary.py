#!/usr/bin/env python3
"""embed_binary.py IN OUT NAME: writes OUT, a C fragment defining `static const unsigned char
NAME[]` with the bytes of IN, aligned for the CUDA driver (used by examples/cuda/CMakeLists.txt to
embed the kernels' fat binary)."""
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w", encoding="ascii") as f:
    f.write("/* Generated from %s by examples/cuda/embed_binary.py. */\n" % src)
    f.write("static const unsigned char %s[] __attribute__((aligned(64))) = {\n" % name)
    for i in range(0, len(data), 16):
        f.write("    " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",\n")
    f.write("};\n")
