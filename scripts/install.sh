#!/usr/bin/env bash
# Installs dfdesk on a Debian machine with Python 3.11: system libraries, then a virtual environment in .venv.
#   scripts/install.sh        the app (CPU build of onnxruntime)
#   scripts/install.sh dev    the app plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-cpu}"

system_packages=(
  # Qt (PySide6) on X11/Wayland and offscreen: EGL/GL, xkbcommon, fontconfig, D-Bus, the xcb plugins
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4
  libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1
  # ffprobe (the tests compare dfdesk's probe with FFmpeg's own), pdftoppm (report rendering), Xvfb (screenshots)
  ffmpeg poppler-utils xvfb xauth
)
missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=$(command -v python3.11 || command -v python3)
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "dfdesk needs Python 3.11" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[${extra}]"
echo "dfdesk installed in $(pwd)/.venv"
