#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver when missing: the analyst graph page is tested
# in headless Chromium (tests/e2e/test_graph_page.py). CI and fresh machines run this from `make test`.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
command -v chromium chromedriver
