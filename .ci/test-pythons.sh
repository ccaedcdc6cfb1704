#!/bin/sh
# `make test-pythons`: builds M2Sec for each other supported Python in its own venv
# (build/venv-X.Y) and runs a subset of the suite there: primitives (EVP digests and ciphers,
# RSA, EC, PKey), X.509, SSL against the openssl command line and Python's ssl module, the
# SSH client against OpenSSH's sshd, and the free guard's races (its release() counts on the
# interpreter's references, which differ between versions).  The whole suite runs on the default Python (`make test`).
#   make sdist && .ci/test-pythons.sh 3.9 3.10 3.12 3.13
# An interpreter is pyenv's newest 3.X under $PYENV_ROOT (~/.pyenv), or python3.X on PATH.
set -eu
SUBSET="test_evp_digest.py test_evp_cipher.py test_rsa.py test_ec.py test_pkey.py test_x509.py
        ssl/test_ssl_peers.py ssh/test_client.py test_free_concurrent.py"
top=$(pwd)
SDIST=$(ls -t "$top"/build/dist/m2sec-*.tar.gz | head -n 1)
failed=""
for v in "$@"; do
    py=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python 2>/dev/null | sort -V | tail -n 1)
    [ -n "$py" ] || py=$(command -v "python$v" 2>/dev/null || true)
    if [ -z "$py" ] || ! "$py" -c "" 2>/dev/null; then
        echo "Python $v not found (python$v on PATH, or pyenv install $v)" >&2
        failed="$failed $v"; continue
    fi
    venv="$top/build/venv-$v"
    echo "== Python $v: $py"
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
    fi
    "$venv/bin/python" -m pip install -q "setuptools>=77" wheel "swig>=4.1" pytest pytest-timeout cryptography
    # From the sdist (make sdist), built in pip's own directory: the source tree is untouched.
    PATH="$venv/bin:$PATH" "$venv/bin/python" -m pip install -q --no-build-isolation --force-reinstall --no-deps "$SDIST"
    # From tests/, M2Sec is the installed copy (checked), not the source tree's.
    (cd tests && "$venv/bin/python" -c "import M2Sec, sys; assert 'site-packages' in M2Sec.__file__, M2Sec.__file__; print('M2Sec', M2Sec.__version__, 'on', sys.version.split()[0], M2Sec.m2.OPENSSL_VERSION_TEXT)") \
        && (cd tests && "$venv/bin/python" -m pytest -q -p no:cacheprovider $SUBSET) || failed="$failed $v"
done
[ -z "$failed" ] || { echo "failed on Python:$failed" >&2; exit 1; }
