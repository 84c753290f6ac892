#!/usr/bin/env bash
# Debian packages the training data needs: FluidSynth and the soundfonts named in the
# training issue (train: Fluid R3 GM, csound GM bank, OPL3, AVL drum kits; validation only:
# TimGM6mb), MMA (its groove library drives the MMA song source) and Freedoom (its WADs
# hold the human-composed MIDI tracks of the Freedoom source).
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
  fluidsynth libfluidsynth3 fluid-soundfont-gm csound-soundfont opl3-soundfont timgm6mb-soundfont \
  avldrums.lv2-soundfont mma freedoom
