#!/usr/bin/env bash
# make demo: the main job (an import, from stick to verified disc) on a built-in demo.
# Until the station exists this says honestly what is not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: the appliance station (airlock run) is not built yet; nothing to demonstrate."
bin/airlock --help
