#!/usr/bin/env bash
# Build the one-folder app with PyInstaller (packaging/imgfinder.spec), then smoke-test it.
#
#   bash packaging/build.sh          # -> build/pyinstaller/dist/imgfinder/ (Linux)
#
# Environment: IMGFINDER_BUILD_DIR (default build/pyinstaller; holds venv/, src/, work/,
# dist/ and smoke/), PYTHON (the interpreter for the build venv, default python3; PyInstaller
# needs it built with its shared library, as python.org, Debian and pyenv ones are with
# --enable-shared). The build venv gets PyInstaller and imgfinder with its run-time
# dependencies only, not the `train` extra: TensorFlow is not installed there at all, so it
# cannot end up in the app (checked again on the result). The venv is kept between runs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${IMGFINDER_BUILD_DIR:-$repo/build/pyinstaller}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
venv="$out/venv"
py="$venv/bin/python"
say() { printf '\n== %s\n' "$*"; }
fail() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

say "build venv: $venv"
t0=$SECONDS
[ -x "$py" ] || "${PYTHON:-python3}" -m venv "$venv"
"$py" -m pip install --quiet --upgrade pip
# The wheel is built from a clean copy of the sources: no stale build/ or egg-info in it.
rm -rf "$out/src"
mkdir -p "$out/src"
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/LICENSE" "$repo/imgfinder" "$repo/resources" "$out/src/"
find "$out/src" -name __pycache__ -prune -exec rm -rf {} +
"$py" -m pip install --quiet "pyinstaller>=6.10" "$out/src"
for heavy in tensorflow keras torch jax; do
  if "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$heavy') is None)"; then
    fail "$heavy is installed in $venv: the app must not contain it (remove the venv and run again)"
  fi
done
"$py" -m pip list --format=freeze 2>/dev/null | grep -i -E '^(pyinstaller|pyside6|ai.edge.litert|numpy|pillow|annoy|pillow.heif|rawpy|pillow.jxl)' | sed 's/^/  /'
t_venv=$((SECONDS - t0))

say "pyinstaller packaging/imgfinder.spec"
t0=$SECONDS
"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --workpath "$out/work" --distpath "$out/dist" "$repo/packaging/imgfinder.spec"
t_build=$((SECONDS - t0))
app="$out/dist/imgfinder"
internal="$app/_internal"

say "contents"
for f in imgfinder/resources/models/efficientnet_lite0_s160.tflite imgfinder/resources/models/siamese_head.npz \
         imgfinder/resources/models/retrieval_whitening.npz imgfinder/resources/models/MODEL_CARD.md \
         imgfinder/resources/icons/imgfinder.svg LICENSE; do
  [ -f "$internal/$f" ] || fail "missing from the bundle: $f"
done
plugins="$internal/PySide6/Qt/plugins"
for f in platforms/libqxcb.so platforms/libqoffscreen.so platforms/libqwayland.so imageformats/libqjpeg.so \
         imageformats/libqsvg.so imageformats/libqwebp.so iconengines/libqsvgicon.so; do
  [ -f "$plugins/$f" ] || fail "missing Qt plugin: $plugins/$f"
done
ls "$internal"/ai_edge_litert/libLiteRt.so >/dev/null || fail "missing LiteRT's native library"
heavy="$(find "$internal" \( -iname tensorflow -o -iname 'libtensorflow*' -o -iname keras -o -iname torch \
          -o -iname jax -o -iname jaxlib -o -iname tensorboard \) -print)"
[ -z "$heavy" ] || fail "the bundle contains what it must not: $heavy"
echo "  model files, icons, LICENSE, Qt plugins (xcb, wayland, offscreen; jpeg, svg, webp) and LiteRT: present"
echo "  TensorFlow, Keras, PyTorch, JAX: absent"
found="$(cd "$internal" && ls -d pillow_heif rawpy pillow_jxl 2>/dev/null | tr '\n' ' ' || true)"
echo "  image plugins (HEIF/AVIF, raw, JPEG XL): ${found:-none installed in the build venv}"
for f in PySide6/Qt/plugins/platformthemes/libqgtk3.so ai_edge_litert/libLiteRtWebGpuAccelerator.so; do
  [ ! -e "$internal/$f" ] || fail "left out on purpose (bundle_contents.LEAVE_OUT) but bundled: $f"
done

say "size"
du -sh "$app"
echo "biggest folders of _internal:"
(cd "$internal" && du -sk -- * | sort -rn | head -8 | awk '{printf "  %7.1f MB  %s\n", $1/1024, $2}')
echo "biggest files:"
(cd "$app" && find . -type f -printf '%s %P\n' | sort -rn | head -12 | awk '{printf "  %7.1f MB  %s\n", $1/1048576, $2}')

say "smoke test"
t0=$SECONDS
xvfb=""
command -v xvfb-run >/dev/null && xvfb="--xvfb"
"$py" "$repo/packaging/smoke_test.py" "$app" "$out/smoke" $xvfb
t_smoke=$((SECONDS - t0))

say "done: $app"
echo "  build venv ${t_venv} s, pyinstaller ${t_build} s, smoke test ${t_smoke} s; $(du -sh "$app" | cut -f1) on disk"
