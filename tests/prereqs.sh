#!/bin/sh
# Installs the Debian packages of tests/system-packages.txt whose check is missing: with apt-get
# when run as root (or with sudo available), otherwise prints the one command to run and fails.
set -eu
list="$(dirname "$0")/system-packages.txt"
need=""
while read -r pkg check _rest; do
    case "$pkg" in ''|'#'*) continue ;; esac
    case "$check" in
        py:*) "${PYTHON:-python3}" -c "import ${check#py:}" >/dev/null 2>&1 && continue ;;
        pyinclude:*) [ -e "$("${PYTHON:-python3}" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/${check#pyinclude:}" ] && continue ;;
        /*) [ -e "$check" ] && continue ;;
        *) command -v "$check" >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' && continue
    need="$need $pkg"
done < "$list"
[ -z "$need" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "missing Debian packages; run:  sudo apt-get install -y$need" >&2
    exit 1
fi
echo "installing Debian packages:$need"
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq $need
