#!/usr/bin/env bash
# Install the launcher, the icons and the AppStream metainfo for the current user.
#
#   bash packaging/install-desktop-entry.sh              # the launcher runs this checkout's .venv/bin/imgfinder
#   bash packaging/install-desktop-entry.sh EXECUTABLE   # ... or another imgfinder, e.g. a frozen build's
#                                                        #     build/pyinstaller/dist/imgfinder/imgfinder
#   bash packaging/install-desktop-entry.sh --uninstall
#
# Writes into ${XDG_DATA_HOME:-~/.local/share}: applications/<id>.desktop (Exec and TryExec
# made absolute), icons/hicolor/<N>x<N>/apps/<id>.png and icons/hicolor/scalable/apps/<id>.svg,
# metainfo/<id>.metainfo.xml; then refreshes the desktop and icon caches where those tools exist.
set -euo pipefail
id="io.github.imgfinder.imgfinder"
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"
metainfo="$data/metainfo"

refresh() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$apps" || true
  command -v gtk-update-icon-cache >/dev/null && [ -f "$icons/index.theme" ] && gtk-update-icon-cache -q -t "$icons" || true
}

# The launcher of earlier versions (imgfinder.desktop, icon imgfinder.svg) is replaced.
remove_old() {
  if [ -f "$apps/imgfinder.desktop" ] && grep -q '^Comment=Find similar and duplicate photos' "$apps/imgfinder.desktop"; then
    rm -f "$apps/imgfinder.desktop" "$icons/scalable/apps/imgfinder.svg"
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  remove_old
  rm -f "$apps/$id.desktop" "$metainfo/$id.metainfo.xml" "$icons/scalable/apps/$id.svg" "$icons"/*/apps/"$id.png"
  refresh
  echo "removed $apps/$id.desktop, its icons and metainfo"
  exit 0
fi

exe="${1:-$here/.venv/bin/imgfinder}"
[ -x "$exe" ] || {
  if [ $# -eq 0 ]; then echo "run 'bash scripts/run.sh' once first (it creates $exe), or name an imgfinder executable" >&2
  else echo "not an executable: $exe" >&2; fi
  exit 1
}
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
case "$exe" in
  *[\"\`\$\\]*) echo "cannot write a launcher for a path with \", \`, \$ or \\ in it: $exe" >&2; exit 1 ;;
esac

remove_old
mkdir -p "$apps" "$metainfo" "$icons/scalable/apps"
for png in "$here"/packaging/icons/hicolor/*/apps/"$id.png"; do
  size="$(basename "$(dirname "$(dirname "$png")")")"
  mkdir -p "$icons/$size/apps"
  cp "$png" "$icons/$size/apps/$id.png"
done
cp "$here/resources/icons/imgfinder.svg" "$icons/scalable/apps/$id.svg"
cp "$here/packaging/$id.metainfo.xml" "$metainfo/$id.metainfo.xml"
# Exec="/abs/path/imgfinder" gui %F (quoted: the path may hold spaces), TryExec=/abs/path/imgfinder
EXE="$exe" awk '
  /^Exec=imgfinder / { sub(/^Exec=imgfinder/, "Exec=\"" ENVIRON["EXE"] "\""); print; next }
  /^TryExec=/ { print "TryExec=" ENVIRON["EXE"]; next }
  { print }
' "$here/packaging/$id.desktop" > "$apps/$id.desktop"
refresh
echo "installed $apps/$id.desktop (runs $exe), its icons and metainfo"
