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
sys.path.insert(0, HERE)

from dotted import import_dotted  # noqa: E402

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
html_static_path = ["_static"]
html_css_files = ["custom.css"]
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
            "ctypes", "hashlib", "hmac", "signal", "queue", "select", "argparse", "dbm", "URLError", "django",
            "Ellipsis")
# An exception that exists in Err's registry and in its area module (SSLError) is found twice
# by a short name; the area module's is meant, and the link goes to the first.
suppress_warnings = ["ref.python"]
nitpick_ignore_regex = [
    (r"py:.*", r"(%s)(\..*)?" % "|".join(re.escape(m) for m in _FOREIGN)),
    (r"py:.*", r"(Any|Optional|Union|Callable|Iterable|Iterator|Generator|AsyncIterator|Awaitable|Coroutine|Dict|"
               r"List|Tuple|Set|FrozenSet|Sequence|Mapping|MutableMapping|Type|TypeVar|Literal|IO|BinaryIO|TextIO|"
               r"NoReturn|Self|ClassVar|Protocol|NamedTuple|AnyStr|SupportsInt|Buffer|T|_T.*|PathLike)"),
    (r"py:.*", r"(App|StartResponse|Environ|Buffer|BytesLike|ReadableBuffer|SizedBuffer)"),  # module-level type aliases
    (r"py:.*", r"M2Sec\._m2sec(\..*)?|SwigPyObject"),  # the C module's pointers
    (r"py:.*", r"(.*\.)?_\w*(\..*)?"),  # private modules and classes: not in the reference
    (r"py:class", r"(.*\.)?T"),  # type variables
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
                lines += ["   :members:", "   :undoc-members:", "   :show-inheritance:"]
            lines.append("")
        _write(os.path.join(api, modname + ".rst"), "\n".join(lines))
        wanted.add(modname + ".rst")
    _write(os.path.join(api, "index.rst"), "\n".join(index) + "\n")
    for stale in set(os.listdir(api)) - wanted:
        os.remove(os.path.join(api, stale))


def _members_for(modname, claimed_defined):
    """What modname's page lists: its own classes and functions, then private modules' ones."""
    mod = importlib.import_module(modname)
    # __all__ (re-exports included), then the module's other public classes and functions
    names = list(getattr(mod, "__all__", ())) + [n for n in vars(mod) if not n.startswith("_")]
    out = []
    seen = set()
    for name in names:
        obj = getattr(mod, name, None)
        if not _documentable(obj) or id(obj) in seen:
            continue
        seen.add(id(obj))
        home = getattr(obj, "__module__", None) or ""
        if getattr(obj, "__name__", None) != name:
            continue  # an alias: documented under the object's own name
        if home == modname:
            pass
        elif home.startswith("M2Sec.") and _is_private(home) and not home.startswith("M2Sec._m2sec") \
                and id(obj) not in claimed_defined:
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


# -- short names in docstrings --------------------------------------------------------------
# Docstrings name M2Sec's objects as a reader of the module would (:class:`SSL.Context`,
# :exc:`SSLError`, :meth:`close`).  A reference Sphinx cannot resolve as written is looked up
# as M2Sec.<name>, then relative to the referring module and class, then through the object
# the name imports as (a re-export such as SSL.create_default_context), then as the one
# documented object whose full name ends with it.  What still does not resolve is left as
# code, without a link and without a warning, when it names a private object (a component
# starting with "_", or an object of a private module) or an attribute or constant (instance
# attributes and module constants are described in the prose, not listed in the reference);
# any other reference that does not resolve is a warning, so an error of `make docs`.

def _anywhere(target):
    """The canonical names of the objects that any loaded M2Sec module holds under target."""
    out = set()
    for modname, mod in list(sys.modules.items()):
        if mod is None or not (modname == "M2Sec" or modname.startswith("M2Sec.")):
            continue
        obj = import_dotted("%s.%s" % (modname, target)) if "." in target else getattr(mod, target, None)
        if obj is not None and (inspect.isclass(obj) or inspect.isroutine(obj)):
            canon = _canonical(obj)
            if canon:
                out.add(canon)
    return out


def _canonical(obj):
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(obj, property) and obj.fget is not None:
        module, qualname = obj.fget.__module__, obj.fget.__qualname__
    if module and qualname:
        return "%s.%s" % (module, qualname)
    return None


def _resolve_short_name(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    if not target:
        return None
    objects = env.get_domain("py").objects
    modname = node.get("py:module") or ""
    clsname = node.get("py:class") or ""
    candidates = [target, "M2Sec." + target]
    parts = modname.split(".") if modname else []
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if clsname:
            candidates.append("%s.%s.%s" % (prefix, clsname, target))
        candidates.append("%s.%s" % (prefix, target))
    found = next((c for c in candidates if c in objects), None)
    private = _is_private(target)
    if found is None:
        for c in candidates:
            if not c.startswith("M2Sec."):
                continue
            obj = import_dotted(c)
            if obj is None:
                continue
            if not (inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, property)):
                private = True  # data (run_local is an instance): described in prose, not listed
                break
            canon = _canonical(obj)
            if canon in objects:
                found = canon
                break
            if canon and canon.startswith("M2Sec") and _is_private(canon):
                private = True
            break
    if found is None:
        suffix = "." + target
        matches = sorted(name for name in objects if name.endswith(suffix))
        if clsname and len(matches) > 1:
            matches = [m for m in matches if m[:-len(suffix)].endswith("." + clsname)] or matches
        if modname and len(matches) > 1:
            matches = [m for m in matches if m.startswith(modname + ".")] or matches
        if len(matches) == 1:
            found = matches[0]
    if found is None:
        canon = _anywhere(target)
        if len(canon) == 1:
            (name,) = canon
            if name in objects:
                found = name
            elif _is_private(name):
                private = True
    if found is None:
        if private or node.get("reftype") in ("attr", "data"):
            return contnode
        return None
    from sphinx.util.nodes import make_refnode
    entry = objects[found]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, found)


def setup(app):
    app.connect("missing-reference", _resolve_short_name)
