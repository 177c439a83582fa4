#!/bin/sh
# dtf: hardware=cuda timeout=120 gpu_memory=1024
# Needs an NVIDIA GPU: dtf places it only on a worker that offers cuda (and skips it when none
# does). On such a worker it checks that the driver answers.
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
