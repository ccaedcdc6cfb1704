"""Sphinx configuration of M2Sec's documentation site (``make docs``).

The API reference is generated here, before each build, from the installed package: one page
per public module (no component of its name starts with ``_``), listing the classes,
exceptions and functions the module defines, and those it re-exports from private modules
(``M2Sec.SSH`` re-exports ``M2Sec.SSH._asyncio``'s ``connect``).  A module added to ``M2Sec/``
therefore gets its page without an edit here.
"""

import datetime
import importlib
import inspect
import os
import pkgutil
import re
import sys

import M2Sec

HERE = os.path.dirname(os.path.abspath(__file__))

project = "M2Sec"
author = "the M2Sec authors"
copyright = "%d, %s" % (datetime.date.today().year, author)
release = version = M2Sec.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "myst_parser"]
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "requirements.txt"]
default_role = "literal"  # `x` in the included Markdown is code, as on GitHub
highlight_language = "python"
html_theme = "furo"
html_title = "M2Sec %s" % release
html_static_path = []
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False

# The build runs offline (no intersphinx): references to the standard library and to other
# packages cannot resolve, and are not warned about; every reference into M2Sec must resolve.
nitpicky = True
_FOREIGN = ("socket", "asyncio", "ssl", "email", "datetime", "http", "urllib", "xmlrpc", "ftplib", "socketserver",
            "typing", "collections", "enum", "io", "os", "pathlib", "threading", "types", "ipaddress", "smtplib",
            "poplib", "imaplib", "subprocess", "logging", "concurrent", "selectors", "abc", "contextlib",
            "twisted", "cheroot", "zope", "_io", "_socket", "_ssl", "builtins", "weakref", "array", "mmap",
            "ctypes", "hashlib", "hmac", "signal", "queue", "select", "Ellipsis")
nitpick_ignore_regex = [
    (r"py:.*", r"(%s)(\..*)?" % "|".join(re.escape(m) for m in _FOREIGN)),
    (r"py:.*", r"(Any|Optional|Union|Callable|Iterable|Iterator|Generator|AsyncIterator|Awaitable|Coroutine|Dict|"
               r"List|Tuple|Set|FrozenSet|Sequence|Mapping|MutableMapping|Type|TypeVar|Literal|IO|BinaryIO|TextIO|"
               r"NoReturn|Self|ClassVar|Protocol|NamedTuple|AnyStr|SupportsInt|Buffer|T|_T.*|PathLike)"),
    (r"py:.*", r"(App|StartResponse|Environ|Buffer|BytesLike|ReadableBuffer)"),  # module-level type aliases
    (r"py:.*", r"M2Sec\._m2sec(\..*)?|SwigPyObject"),  # the C module's pointers
]


def _is_private(name):
    return any(part.startswith("_") for part in name.split("."))


def public_modules():
    """Every public module of the installed M2Sec package, sorted, packages first."""
    names = ["M2Sec"]
    for info in pkgutil.walk_packages(M2Sec.__path__, "M2Sec."):
        if not _is_private(info.name):
            names.append(info.name)
    return sorted(names)


def _documentable(obj):
    return inspect.isclass(obj) or inspect.isfunction(obj)


def write_api_pages():
    api = os.path.join(HERE, "api")
    os.makedirs(api, exist_ok=True)
    claimed = set()
    modules = public_modules()
    # claim what modules define first, so that a re-export is documented only where it is defined
    for modname in modules:
        for name, obj in vars(importlib.import_module(modname)).items():
            if _documentable(obj) and getattr(obj, "__module__", None) == modname:
                claimed.add(id(obj))
    wanted = {"index.rst"}
    index = ["API reference", "=============", "",
             "Generated from the docstrings of every public module of the installed package "
             "(``docs/conf.py`` writes one page per module before each build).", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    for modname in modules:
        index.append("   %s" % modname)
        lines = [modname, "=" * len(modname), "", ".. automodule:: %s" % modname, ""]
        for kind, name in _members_for(modname, claimed):
            lines.append(".. auto%s:: %s.%s" % (kind, modname, name))
            if kind in ("class", "exception"):
                lines += ["   :members:", "   :show-inheritance:"]
            lines.append("")
        _write(os.path.join(api, modname + ".rst"), "\n".join(lines))
        wanted.add(modname + ".rst")
    _write(os.path.join(api, "index.rst"), "\n".join(index) + "\n")
    for stale in set(os.listdir(api)) - wanted:
        os.remove(os.path.join(api, stale))


def _members_for(modname, claimed_defined):
    """What modname's page lists: its own classes and functions, then private modules' ones."""
    mod = importlib.import_module(modname)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    out = []
    for name in names:
        obj = getattr(mod, name, None)
        if not _documentable(obj):
            continue
        home = getattr(obj, "__module__", None) or ""
        if home == modname:
            pass
        elif home.startswith("M2Sec.") and _is_private(home) and not home.startswith("M2Sec._m2sec") \
                and id(obj) not in claimed_defined and getattr(obj, "__name__", None) == name:
            claimed_defined.add(id(obj))  # a re-export from a private module: documented here, once
        else:
            continue
        if inspect.isclass(obj):
            out.append(("exception" if issubclass(obj, BaseException) else "class", name))
        else:
            out.append(("function", name))
    return out


def _write(path, text):
    """Write only when changed, so that Sphinx rebuilds only what changed."""
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write(text)


write_api_pages()
