"""The documentation site's examples run, and the M2Sec names it gives exist.

The convention (stated on the site's index page): every ``.. code-block:: python`` block of a
page under ``docs/`` runs, in the order of the page, in one namespace per page, in an empty
directory.  A block whose caption starts with ``Not run:`` is skipped; the caption says why
(visibly, on the page), and such blocks are few.  Blocks of other languages (``ini``, ``sh``)
are configuration and command lines, not run here.

Every ``M2Sec.x.y`` written as a literal (````M2Sec.x.y````) or a reference (``:py:obj:`M2Sec.x.y```)
on any page must import or resolve: the migration guides' tables are made of such names.
"""

import os
import re
import sys
import textwrap
from typing import Any, Dict, List, NamedTuple

import pytest

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
sys.path.insert(0, DOCS)

from dotted import import_dotted  # noqa: E402  (docs/dotted.py, shared with docs/conf.py)
NOT_RUN = "Not run:"
MAX_NOT_RUN = 8


class Block(NamedTuple):
    path: str
    line: int  # of the first code line, 1-based
    code: str
    caption: str


def pages() -> List[str]:
    """The site's hand-written pages (the generated API reference has no examples)."""
    out = []
    for root, dirs, files in os.walk(DOCS):
        dirs[:] = sorted(d for d in dirs if d not in ("_build", "api"))
        out += [os.path.join(root, f) for f in sorted(files) if f.endswith(".rst")]
    return out


DIRECTIVE = re.compile(r"^(\s*)\.\. code-block::\s*python3?\s*$")


def blocks(path: str) -> List[Block]:
    """The python code blocks of one page."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        i += 1
        if not m:
            continue
        indent = len(m.group(1))
        options = {}
        while i < len(lines) and re.match(r"^\s{%d,}:[\w-]+:" % (indent + 1), lines[i]):
            name, _, value = lines[i].strip()[1:].partition(":")
            options[name] = value.strip()
            i += 1
        body_start = i
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            i += 1
        body = lines[body_start:i]
        while body and not body[0].strip():
            body.pop(0)
            body_start += 1
        code = textwrap.dedent("\n".join(body))
        assert code.strip(), "%s:%d: an empty code block" % (path, body_start)
        out.append(Block(path, body_start + 1, code, options.get("caption", "")))
    return out


ALL_PAGES = pages()
PAGES_WITH_CODE = [p for p in ALL_PAGES if blocks(p)]


def rel(path: str) -> str:
    return os.path.relpath(path, os.path.dirname(DOCS))


def test_the_site_has_examples():
    """The extraction finds the pages' examples (a broken pattern would find none and pass)."""
    assert len(PAGES_WITH_CODE) >= 8, [rel(p) for p in PAGES_WITH_CODE]
    assert sum(len(blocks(p)) for p in ALL_PAGES) >= 30


def test_few_examples_are_not_run():
    skipped = ["%s:%d %s" % (rel(b.path), b.line, b.caption) for p in ALL_PAGES for b in blocks(p)
               if b.caption.startswith(NOT_RUN)]
    assert len(skipped) <= MAX_NOT_RUN, skipped
    for entry in skipped:
        assert len(entry.split(NOT_RUN, 1)[1].strip()) > 10, "a not-run example must say why: " + entry


@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", PAGES_WITH_CODE, ids=rel)
def test_page_examples_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/config or known_hosts of the machine
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    namespace: Dict[str, Any] = {"__name__": "__docs_example__"}
    ran = 0
    for block in blocks(path):
        if block.caption.startswith(NOT_RUN):
            continue
        # padded so that a traceback names the page's own line numbers
        code = compile("\n" * (block.line - 1) + block.code, path, "exec")
        exec(code, namespace)
        ran += 1
    assert ran > 0, "every example of %s is marked not run" % rel(path)
    out = capsys.readouterr().out
    assert out.strip(), "the examples of %s printed nothing: they show no result" % rel(path)


NAME = re.compile(r"(?:``|:py:\w+:`)(M2Sec(?:\.\w+)+)(?:\(\))?`{1,2}")


def documented_names() -> Dict[str, str]:
    """Every ``M2Sec.x.y`` literal of the pages -> where it first appears."""
    out: Dict[str, str] = {}
    for path in ALL_PAGES:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                for m in NAME.finditer(line):
                    out.setdefault(m.group(1), "%s:%d" % (rel(path), n))
    return out


def test_migration_guides_name_many():
    for guide in ("m2crypto", "tlslite", "paramiko", "asyncssh"):
        with open(os.path.join(DOCS, "migration", guide + ".rst"), encoding="utf-8") as f:
            here = set(m.group(1) for m in NAME.finditer(f.read()))
        assert len(here) >= 10, (guide, sorted(here))


@pytest.mark.parametrize("name", sorted(documented_names()))
def test_documented_name_exists(name):
    if import_dotted(name) is None:
        pytest.fail("%s (%s) does not exist in M2Sec" % (name, documented_names()[name]))
