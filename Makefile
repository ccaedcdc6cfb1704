# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SOURCES := setup.py pyproject.toml $(wildcard SWIG/*.i) $(shell find M2Sec -name '*.py' -o -name '*.pyi')

.PHONY: all install prereqs demo test bench clean

all: install

$(PY): | prereqs
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Build tools into the venv (again when this file changes), then install M2Sec without build isolation (faster rebuilds).
# The test requirements build with those tools (M2Crypto 0.51, the API the tests compare with, runs swig).
$(VENV)/.tools: Makefile tests/requirements.txt | $(PY)
	$(PY) -m pip install -q "setuptools>=61" wheel "swig>=4.1"
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation -r tests/requirements.txt
	touch $@

$(VENV)/.installed: $(SOURCES) | $(VENV)/.tools
	rm -f SWIG/_m2sec_wrap.c SWIG/m2sec.py
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation -e .
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

# `make bench BENCH="evp evp_msg"` runs only those parts (bench/run.py's own rows, bench/<area>.py).
bench: install
	$(PY) -m pip install -q cryptography asyncssh paramiko gunicorn hypercorn cheroot matplotlib
	$(CC) -O2 -o bench/aead_loop bench/aead_loop.c $$(pkg-config --cflags --libs libcrypto 2>/dev/null || echo -lcrypto)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation m2crypto==0.51.0 \
		|| echo "M2Crypto did not build: the bench leaves its rows out"
	$(PY) bench/run.py $(BENCH)

clean:
	rm -rf build dist *.egg-info SWIG/_m2sec_wrap.c SWIG/m2sec.py M2Sec/*.so $(VENV)/.installed
