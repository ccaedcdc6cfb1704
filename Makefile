# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SOURCES := setup.py pyproject.toml $(wildcard SWIG/*.i) $(shell find M2Sec -name '*.py' -o -name '*.pyi')

.PHONY: all install prereqs demo test bench clean docs

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

bench: install
	$(PY) -m pip install -q cryptography asyncssh paramiko gunicorn hypercorn cheroot
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q --no-build-isolation m2crypto==0.51.0 \
		|| echo "M2Crypto did not build: the bench leaves its rows out"
	$(PY) bench/run.py

clean:
	rm -rf build dist *.egg-info SWIG/_m2sec_wrap.c SWIG/m2sec.py M2Sec/*.so $(VENV)/.installed

# The documentation site (docs/): Sphinx and its theme into .venv, then HTML into docs/_build/html,
# nitpicky, with every warning an error.  `make docs SPHINXOPTS=-E` rebuilds every page.
$(VENV)/.docs-tools: docs/requirements.txt | $(PY)
	$(PY) -m pip install -q -r docs/requirements.txt
	touch $@

docs: install $(VENV)/.docs-tools
	$(PY) -m sphinx -b html -n -W --keep-going -q $(SPHINXOPTS) docs docs/_build/html
	@echo "the site: docs/_build/html/index.html"
