#!/bin/sh
# dtf: hardware=webgpu timeout=60
# Needs a browser with WebGPU: only a worker that offers webgpu runs it.
echo "webgpu adapter present"
