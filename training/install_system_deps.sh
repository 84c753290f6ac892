#!/usr/bin/env bash
# Debian packages the training data needs: FluidSynth and the soundfonts named in the
# training issue (train: Fluid R3 GM, csound GM bank, OPL3; validation only: TimGM6mb).
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  fluidsynth libfluidsynth3 fluid-soundfont-gm csound-soundfont opl3-soundfont timgm6mb-soundfont
