#!/usr/bin/env bash
# Builds the one-folder dfdesk app with PyInstaller and a Linux installer archive from it.
#   packaging/build.sh cpu    CPU variant  -> dist/dfdesk-VERSION-linux-x86_64-cpu.tar.gz (+ .sha256)
#   packaging/build.sh gpu    GPU variant  -> dist/dfdesk-VERSION-linux-x86_64-gpu.tar.gz (+ .sha256)
# Each variant builds in a clean venv of its own, build/venv-VARIANT (onnxruntime and onnxruntime-gpu cannot share
# one), made on the first run from pyproject.toml's extras: [cpu,packaging] or [gpu,packaging].
# Environment:
#   DFDESK_BUILD_VENV=PATH   build with this venv instead (it must hold the extras above), e.g. .venv for cpu
#   DFDESK_NO_ARCHIVE=1      stop after PyInstaller (dist/VARIANT/dfdesk)
# Needs: Python 3.11, gcc and binutils (the CPU variant's CUDA stubs), tar, gzip (pigz when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
variant="${1:-}"
[[ "$variant" == cpu || "$variant" == gpu ]] || { echo "usage: packaging/build.sh cpu|gpu" >&2; exit 2; }

venv="${DFDESK_BUILD_VENV:-build/venv-$variant}"
if [[ ! -x "$venv/bin/pyinstaller" ]]; then
  [[ -n "${DFDESK_BUILD_VENV:-}" ]] && { echo "build.sh: $venv has no pyinstaller (pip install -e '.[packaging]')" >&2; exit 1; }
  python=$(command -v python3.11 || command -v python3)
  "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "build.sh needs Python 3.11" >&2; exit 1; }
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  echo "build.sh: installing .[$variant,packaging] into $venv"
  "$venv/bin/python" -m pip install -q ".[$variant,packaging]"
else
  # refresh dfdesk's own metadata (what --version reads); the code itself comes from this checkout
  "$venv/bin/python" -m pip install -q --no-deps --force-reinstall . >/dev/null 2>&1 \
    || { echo "build.sh: could not install dfdesk into $venv" >&2; exit 1; }
fi
other=$([[ $variant == cpu ]] && echo onnxruntime-gpu || echo onnxruntime)
if "$venv/bin/python" -m pip show -q "$other" >/dev/null 2>&1; then
  echo "build.sh: $venv holds $other; the $variant variant needs a venv without it" >&2; exit 1
fi

version=$("$venv/bin/python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
start=$(date +%s)
DFDESK_VARIANT=$variant "$venv/bin/pyinstaller" --noconfirm --log-level WARN \
  --distpath "dist/$variant" --workpath "build/pyinstaller-$variant" pyinstaller.spec
bundle="dist/$variant/dfdesk"
echo "build.sh: PyInstaller took $(( $(date +%s) - start )) s; $bundle is $(du -sh "$bundle" | cut -f1)"
[[ "${DFDESK_NO_ARCHIVE:-}" == 1 ]] && exit 0

name="dfdesk-$version-linux-$(uname -m)-$variant"
stage="build/installer-$variant/$name"
rm -rf "build/installer-$variant"
mkdir -p "$stage"
cp -a "$bundle" "$stage/dfdesk"
cp packaging/linux/install.sh packaging/linux/dfdesk.desktop "$stage/"
cp resources/icons/dfdesk.png "$stage/dfdesk.png"
cat > "$stage/README.txt" <<README
dfdesk $version ($variant variant) for Linux $(uname -m): offline video deepfake forensics.
Install for this user:   ./install.sh            (~/.local/opt/dfdesk, launcher ~/.local/bin/dfdesk)
Install for everyone:    sudo ./install.sh --system   (/opt/dfdesk, launcher /usr/local/bin/dfdesk)
Uninstall:               ./install.sh [--system] --uninstall
Or run it in place:      ./dfdesk/dfdesk      (no arguments: the GUI; dfdesk --help: the command line)
Needs glibc 2.28 or newer and the usual desktop libraries (X11 or Wayland, fontconfig, EGL/GL).
README
archive="dist/$name.tar.gz"
start=$(date +%s)
gz=$(command -v pigz || echo gzip)
tar -C "build/installer-$variant" -cf - "$name" | "$gz" -6 > "$archive"
(cd dist && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
rm -rf "build/installer-$variant"
echo "build.sh: archive in $(( $(date +%s) - start )) s: $archive ($(du -h "$archive" | cut -f1))"
