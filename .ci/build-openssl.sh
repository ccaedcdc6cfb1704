#!/bin/sh
# Builds OpenSSL from Debian's source package of another suite (default: trixie's 3.5) into PREFIX,
# with both shared and static libraries compiled -fPIC: `make test-openssl35` links M2Sec to the
# shared ones (with an rpath), a static wheel can link the static ones.
#   .ci/build-openssl.sh [SUITE] [PREFIX]          (defaults: trixie build/openssl-3.5)
# OPENSSL_SRC: an unpacked OpenSSL source tree to build instead of fetching one.
# OPENSSL_CONFIG: Configure's options (default: shared -fPIC zlib); unless they name an
# --openssldir, OPENSSLDIR is PREFIX/ssl and the programs get an rpath to PREFIX/lib. `make wheel`
# passes static-only ones with the system's OPENSSLDIR (.ci/build-wheel.sh). The Makefile names
# PREFIX after a hash of these options, so a change of options builds into a new directory and
# the old one stays as it is; PREFIX/.complete records the options it was built with, and a PREFIX
# built with other options is refused, not rebuilt under whoever is using it.
# The source is fetched once with `apt-get source` through a private apt configuration under
# build/apt-SUITE (the machine's apt sources are not touched) and kept in build/src-SUITE.
set -eu
SUITE=${1:-trixie}
PREFIX=${2:-build/openssl-3.5}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
top=$(pwd)
case "$PREFIX" in /*) ;; *) PREFIX="$top/$PREFIX" ;; esac
CONFIG=${OPENSSL_CONFIG:-shared -fPIC zlib}
if [ -x "$PREFIX/bin/openssl" ] && [ -e "$PREFIX/.complete" ]; then
    if [ "$(cat "$PREFIX/.complete")" != "$CONFIG" ]; then
        echo "$PREFIX was built with other Configure options ($(cat "$PREFIX/.complete")), not: $CONFIG;" \
            "choose another PREFIX (the Makefile names it after the options) or remove it" >&2; exit 1
    fi
    echo "OpenSSL already built in $PREFIX ($CONFIG): $("$PREFIX/bin/openssl" version)"; exit 0
fi
command -v dpkg-source >/dev/null || { echo "dpkg-source is missing: apt-get install dpkg-dev" >&2; exit 1; }
aptdir="$top/build/apt-$SUITE"
srcdir="$top/build/src-$SUITE"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d" "$srcdir"
printf 'deb-src [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" > "$aptdir/sources.list"
cat > "$aptdir/apt.conf" <<CONF
Dir::State "$aptdir";
Dir::State::Lists "$aptdir/lists";
Dir::State::status "/var/lib/dpkg/status";
Dir::Cache "$aptdir/cache";
Dir::Etc::SourceList "$aptdir/sources.list";
Dir::Etc::SourceParts "$aptdir/sources.list.d";
APT::Sandbox::User "root";
CONF
src=${OPENSSL_SRC:-$(ls -d "$srcdir"/openssl-*/ 2>/dev/null | head -n 1 || true)}
if [ -n "${OPENSSL_SRC:-}" ] && [ ! -x "$OPENSSL_SRC/Configure" ]; then
    echo "OPENSSL_SRC=$OPENSSL_SRC holds no OpenSSL source (no Configure)" >&2; exit 1
fi
if [ -z "$src" ]; then
    APT_CONFIG="$aptdir/apt.conf" apt-get update -qq
    # Newest version first; a mirror may lag behind its own index, so fall back to older ones.
    for v in $(APT_CONFIG="$aptdir/apt.conf" apt-cache showsrc openssl | awk '/^Version:/ {print $2}' | sort -rV); do
        (cd "$srcdir" && APT_CONFIG="$aptdir/apt.conf" apt-get source -qq "openssl=$v") && break
        echo "openssl $v is not fetchable from $MIRROR, trying an older one" >&2
    done
    src=$(ls -d "$srcdir"/openssl-*/ | head -n 1)
fi
echo "building $(basename "$src") into $PREFIX"
build="$top/build/obj-$SUITE-$(basename "$PREFIX")"
rm -rf "$build"; mkdir -p "$build"
cd "$build"
# Debian's patches are applied by dpkg-source; no Debian configuration, OpenSSL's own defaults.
# Options naming their own OPENSSLDIR (the system's for a wheel) get software only installed.
case " $CONFIG " in
    *" --openssldir="*) own_dir=1; set -- $CONFIG ;;
    *) own_dir=""; set -- --openssldir="$PREFIX/ssl" "-Wl,-rpath,$PREFIX/lib" $CONFIG ;;
esac
"$src/Configure" --prefix="$PREFIX" --libdir=lib no-tests "$@" >/dev/null
make -s -j"${JOBS:-2}" >/dev/null
if [ -n "$own_dir" ]; then make -s install_sw >/dev/null; else make -s install_sw install_ssldirs >/dev/null; fi
# The system's CA certificates, so that tests verifying public CAs behave as on the system OpenSSL.
[ -d /etc/ssl/certs ] && rmdir "$PREFIX/ssl/certs" 2>/dev/null && ln -s /etc/ssl/certs "$PREFIX/ssl/certs" || true
printf '%s\n' "$CONFIG" > "$PREFIX/.complete"
"$PREFIX/bin/openssl" version
