#!/bin/sh
# Installs the dfdesk bundle that lies beside this script. No Python, no network needed.
#   ./install.sh                 for this user: ~/.local/opt/dfdesk, launcher ~/.local/bin/dfdesk, menu entry + icon
#   sudo ./install.sh --system   for everyone:  /opt/dfdesk, launcher /usr/local/bin/dfdesk, menu entry + icon
#   ./install.sh [--system] --uninstall
#   ./install.sh --prefix DIR    the app into DIR (launcher and menu entry as for the user or --system)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
scope=user prefix="" action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --system) scope=system ;;
    --user) scope=user ;;
    --prefix) prefix="$2"; shift ;;
    --uninstall) action=uninstall ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$scope" = system ]; then
  app_dir=${prefix:-/opt/dfdesk}; bin_dir=/usr/local/bin
  share_dir=/usr/share
else
  data_home=${XDG_DATA_HOME:-$HOME/.local/share}
  app_dir=${prefix:-$HOME/.local/opt/dfdesk}; bin_dir=$HOME/.local/bin
  share_dir=$data_home
fi
launcher=$bin_dir/dfdesk
desktop=$share_dir/applications/dfdesk.desktop
icon=$share_dir/icons/hicolor/256x256/apps/dfdesk.png

refresh_menus() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share_dir/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$share_dir/icons/hicolor" || true
}

if [ "$action" = uninstall ]; then
  rm -rf "$app_dir"; rm -f "$launcher" "$desktop" "$icon"
  refresh_menus
  echo "dfdesk removed from $app_dir (cases and settings in the user data folder are kept)"
  exit 0
fi

[ -x "$here/dfdesk/dfdesk" ] || { echo "install.sh: no dfdesk/dfdesk beside this script" >&2; exit 1; }
mkdir -p "$(dirname "$app_dir")" "$bin_dir" "$(dirname "$desktop")" "$(dirname "$icon")"
# Copy beside the old version first, then swap, so a failed copy never leaves a half-installed app.
rm -rf "$app_dir.new"
cp -R "$here/dfdesk" "$app_dir.new"
rm -rf "$app_dir.old"
[ -e "$app_dir" ] && mv "$app_dir" "$app_dir.old"
mv "$app_dir.new" "$app_dir"
rm -rf "$app_dir.old"

cat > "$launcher" <<LAUNCHER
#!/bin/sh
exec "$app_dir/dfdesk" "\$@"
LAUNCHER
chmod 755 "$launcher"
cp "$here/dfdesk.png" "$icon"
sed "s|@LAUNCHER@|$launcher|" "$here/dfdesk.desktop" > "$desktop"
chmod 644 "$desktop" "$icon"
refresh_menus
echo "dfdesk installed in $app_dir; launcher $launcher; menu entry $desktop"
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "note: $bin_dir is not on PATH; run $launcher" ;; esac
