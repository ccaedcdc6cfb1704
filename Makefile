# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SOURCES := setup.py pyproject.toml $(wildcard SWIG/*.i) $(shell find M2Sec -name '*.py' -o -name '*.pyi')

.PHONY: all install prereqs demo test bench bench-tools bench-callgrind clean docs typecheck

all: install

$(PY): | prereqs
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Build tools into the venv (again when this file changes), then install M2Sec without build isolation (faster rebuilds).
# The test requirements build with those tools (M2Crypto 0.51, the API the tests compare with, runs swig).
$(VENV)/.tools: Makefile tests/requirements.txt | $(PY)
	$(PY) -m pip install -q "setuptools>=77" wheel "swig>=4.1"
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation -r tests/requirements.txt
	touch $@

$(VENV)/.installed: $(SOURCES) | $(VENV)/.tools
	rm -f SWIG/_m2sec_wrap.c SWIG/m2sec.py
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation -e .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) SWIG/gen_m2_pyi.py
	touch $@

install: $(VENV)/.installed

# The Debian packages of tests/system-packages.txt (compiler, OpenSSL, the peers the tests start).
prereqs:
	@sh tests/prereqs.sh

demo: prereqs install
	$(PY) demo/m2sec_demo.py
	$(PY) demo/https_demo.py
	$(PY) demo/tls_lite_demo.py
	$(PY) demo/ssh_demo.py
	$(PY) demo/wsgi_demo.py

test: prereqs install
	cd tests && ../$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# `make bench BENCH="evp_msg tls"` runs only those parts (bench/<area>.py); every bench/*.c (a C limit) is built first.
bench: bench-tools
	$(PY) bench/run.py $(BENCH)

bench-tools: install
	$(PY) -m pip install -q cryptography asyncssh paramiko gunicorn hypercorn cheroot matplotlib
	for c in bench/*.c; do $(CC) -O2 -o $${c%.c} $$c $$(pkg-config --cflags --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto) || exit 1; done  # the C limits
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation m2crypto==0.51.0 \
		|| echo "M2Crypto did not build: the bench leaves its rows out"

# Instructions and cache misses per TLS handshake under callgrind (a few minutes; ALG=RSA-2048 for RSA).
bench-callgrind: prereqs bench-tools
	$(PY) bench/tls_callgrind.py $(ALG)

clean:
	rm -rf build dist *.egg-info SWIG/_m2sec_wrap.c SWIG/m2sec.py M2Sec/*.so $(VENV)/.installed

# ---- Other Pythons, another OpenSSL, fuzzing, AddressSanitizer (issue 18) -------------------
# `make test-pythons`: a subset of the suite on each other supported Python (.ci/test-pythons.sh).
PYTHONS ?= 3.9 3.10 3.12 3.13
# `make openssl35`: OpenSSL 3.5 from Debian trixie's source package, shared and static (-fPIC),
# with zlib, in $(M2SEC_CACHE)/openssl-3.5-HASH (fetched and built once); `make test-openssl35`: M2Sec built against it
# in build/venv-openssl35 and the whole suite run there.
# The OpenSSL builds are kept outside the tree (M2SEC_CACHE), so that a fresh clone on the same
# machine (CI) reuses them instead of building OpenSSL again (minutes each).
M2SEC_CACHE ?= $(HOME)/.cache/m2sec
# Configure's options of the two builds; each build's directory carries the first 8 hex digits of
# the SHA-256 of its options, so that changing them builds anew beside the old build (left as it is).
OPENSSL35_CONFIG := shared -fPIC zlib
WHEEL_OPENSSL_CONFIG := no-shared no-module -fPIC zlib --openssldir=/usr/lib/ssl
openssl_key = $(shell printf '%s' '$(1)' | sha256sum | cut -c1-8)
OPENSSL35 := $(abspath $(M2SEC_CACHE)/openssl-3.5-$(call openssl_key,$(OPENSSL35_CONFIG)))
WHEEL_OPENSSL := $(abspath $(M2SEC_CACHE)/openssl-3.5-static-$(call openssl_key,$(WHEEL_OPENSSL_CONFIG)))
export WHEEL_OPENSSL WHEEL_OPENSSL_CONFIG
VENV35 := build/venv-openssl35
# `make fuzz`: every target of tests/fuzz for FUZZ_SECONDS each, new inputs in build/fuzz/.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.py,%,$(wildcard tests/fuzz/fuzz_*.py))

.PHONY: sdist test-pythons openssl35 test-openssl35 fuzz asan

# The source distribution (build/dist/): the builds below install it, so that they build in pip's
# own directory and never touch the tree's generated files.
sdist: install
	rm -rf build/dist
	$(PY) setup.py -q sdist -d build/dist

test-pythons: prereqs sdist
	sh .ci/test-pythons.sh $(PYTHONS)

openssl35: prereqs
	OPENSSL_CONFIG='$(OPENSSL35_CONFIG)' nice -n 10 sh .ci/build-openssl.sh trixie $(OPENSSL35)

test-openssl35: prereqs openssl35 sdist
	test -x $(VENV35)/bin/python || $(PYTHON) -m venv $(VENV35)
	$(VENV35)/bin/python -m pip install -q "setuptools>=77" wheel "swig>=4.1" -r tests/requirements.txt
	OPENSSL_DIR=$(OPENSSL35) PATH="$(abspath $(VENV35))/bin:$$PATH" \
		$(VENV35)/bin/python -m pip install -q --no-build-isolation --force-reinstall --no-deps build/dist/m2sec-*.tar.gz
	# The rpath makes a lone import run on 3.5; after Python's ssl loaded the system's libcrypto, the import is refused.
	cd tests && ../$(VENV35)/bin/python -c "import M2Sec.m2 as m; assert m.openssl_version_num() >> 20 == 0x305, hex(m.openssl_version_num())"
	cd tests && ! ../$(VENV35)/bin/python -c "import ssl, M2Sec" 2>/dev/null || { echo "import ssl, M2Sec: no ImportError"; exit 1; }
	# Python's own ssl and hashlib load libcrypto.so.3 too: the same one, 3.5's, for the whole process.
	cd tests && LD_LIBRARY_PATH=$(OPENSSL35)/lib PATH=$(OPENSSL35)/bin:$$PATH OPENSSL_MODULES=$(OPENSSL35)/lib/ossl-modules \
		../$(VENV35)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

fuzz: install
	mkdir -p build/fuzz
	cd tests/fuzz && failed=""; for t in $(FUZZ_TARGETS); do mkdir -p ../../build/fuzz/$$t; \
		nice -n 15 ../../$(PY) fuzz_$$t.py -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=../../build/fuzz/$$t- ../../build/fuzz/$$t corpus/$$t \
			> ../../build/fuzz/$$t.log 2>&1 < /dev/null; \
		echo "$$t: $$(grep -o '^Done.*' ../../build/fuzz/$$t.log) $$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' ../../build/fuzz/$$t.log | tail -n 1)"; \
		grep -q "^Done" ../../build/fuzz/$$t.log || { echo "  FAILED: build/fuzz/$$t.log, input in build/fuzz/$$t-*"; failed="$$failed $$t"; }; done; \
		[ -z "$$failed" ] || { echo "fuzz targets that failed:$$failed"; exit 1; }

# The extension built with AddressSanitizer in build/venv-asan, and the tests that start no
# network peer run under it (libasan preloaded into Python, which is not itself built with it;
# the tests measuring resident memory are left out: ASan's quarantine holds freed memory; so are
# those starting gpgsm or an SMTP server: the preloaded libasan is inherited by the peers).
ASAN_VENV := build/venv-asan
ASAN_TESTS ?= $(filter-out test_ftpslib.py test_httpslib.py test_m2urllib.py test_xmlrpc.py test_mail.py test_leaks.py test_gpgsm.py test_mailers.py,$(notdir $(wildcard tests/test_*.py))) ssh/test_keys.py ssh/test_knownhosts.py ssh/test_authorized_keys.py ssh/test_packet_encoding.py ssl/test_ssl_sansio.py
ASAN_NOT_RSS := not test_no_leaks_on_success_and_error_paths and not test_many_objects_do_not_leak \
	and not test_resident_memory_stays_flat and not test_streaming_sign_and_encrypt_bounded_memory
asan: prereqs sdist
	test -x $(ASAN_VENV)/bin/python || $(PYTHON) -m venv $(ASAN_VENV)
	$(ASAN_VENV)/bin/python -m pip install -q "setuptools>=77" wheel "swig>=4.1" -r tests/requirements.txt
	CFLAGS="-fsanitize=address -fno-omit-frame-pointer -O1 -g" LDFLAGS="-fsanitize=address" \
		PATH="$(abspath $(ASAN_VENV))/bin:$$PATH" \
		$(ASAN_VENV)/bin/python -m pip install -q --no-build-isolation --force-reinstall --no-deps build/dist/m2sec-*.tar.gz
	cd tests && LD_PRELOAD=$$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		PYTHONMALLOC=malloc ../$(ASAN_VENV)/bin/python -m pytest -q -p no:cacheprovider \
		-k "$(ASAN_NOT_RSS)" $(ASAN_TESTS)

# ---- The self-contained wheel (issue 20) --------------------------------------------------------
# `make wheel`: dist/m2sec-*-manylinux_*.whl with OpenSSL 3.5 linked in statically and hidden
# (.ci/build-wheel.sh; the OpenSSL build is kept in $(M2SEC_CACHE)/openssl-3.5-static-HASH).
# `make test-wheel`: the wheel installed in a fresh venv (build/venv-wheeltest) and the suite run
# there with no C compiler on PATH (build/nocc: /usr/bin without gcc, cc, ld and the like);
# WHEEL_TESTS=test_cms.py (say) runs only those.
WHEEL_VENV := build/venv-wheeltest
NOCC := build/nocc

.PHONY: wheel test-wheel

wheel: prereqs sdist
	sh .ci/build-wheel.sh $$(ls build/dist/m2sec-*.tar.gz)

test-wheel: prereqs wheel
	rm -rf $(WHEEL_VENV) $(NOCC)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q --only-binary M2Sec dist/*.whl "setuptools>=77" -r tests/requirements.txt
	mkdir -p $(NOCC)
	for f in /usr/bin/* /usr/sbin/*; do case $${f##*/} in *gcc*|*g++*|cc|c++|cpp*|c89*|c99*|*clang*|ld|ld.*|*-ld|*-ld.*|as|*-as|tcc|swig*) ;; *) ln -sf $$f $(NOCC)/ ;; esac; done
	# The openssl command line the tests use as a peer is the wheel's OpenSSL's (3.5, static).
	cd tests && PATH=$(abspath $(WHEEL_VENV))/bin:$(WHEEL_OPENSSL)/bin:$(abspath $(NOCC)) M2SEC_WHEEL_TEST=1 \
		OPENSSL35=$(WHEEL_OPENSSL)/bin/openssl \
		../$(WHEEL_VENV)/bin/python -m pytest -q -p no:cacheprovider $(WHEEL_TESTS)
# The documentation site (docs/): Sphinx and its theme into .venv, then HTML into docs/_build/html,
# nitpicky, with every warning an error.  `make docs SPHINXOPTS=-E` rebuilds every page.
$(VENV)/.docs-tools: docs/requirements.txt | $(PY)
	$(PY) -m pip install -q -r docs/requirements.txt
	touch $@

docs: install $(VENV)/.docs-tools
	$(PY) -m sphinx -b html -n -W --keep-going -q $(SPHINXOPTS) docs docs/_build/html
	@echo "the site: docs/_build/html/index.html"

# ---- Types (issue 20): M2Sec/m2.pyi is generated (SWIG/gen_m2_pyi.py, run by install above);
# mypy --strict on M2Sec/ with pyproject.toml's per-module plan, and on user-side code.
typecheck: install
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) SWIG/gen_m2_pyi.py --check
	$(PY) -m mypy
	$(PY) -m mypy --strict tests/typing/user_code.py
