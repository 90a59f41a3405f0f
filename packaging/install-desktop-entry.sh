#!/usr/bin/env bash
# Install the launcher and icon for the current user, pointing at this checkout's venv.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
exe="$here/.venv/bin/imgfinder"
[ -x "$exe" ] || { echo "run 'bash scripts/run.sh' once first (it creates $exe)" >&2; exit 1; }
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$apps" "$icons"
cp "$here/resources/icons/imgfinder.svg" "$icons/imgfinder.svg"
sed "s|^Exec=imgfinder|Exec=$exe|" "$here/packaging/imgfinder.desktop" > "$apps/imgfinder.desktop"
echo "installed $apps/imgfinder.desktop"
