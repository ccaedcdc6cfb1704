"""Write M2Sec/m2.pyi, the type stub of the C module, from the SWIG declarations.

The .i files are the source of truth, so the stub is derived from what SWIG itself parsed: the
script runs ``swig -xml`` on SWIG/_m2sec.i (no OpenSSL headers are read: the .i files declare
every prototype they wrap) and walks that parse tree in file order.  SWIG's tree already has
the macros expanded, the ``%rename``s applied (``sym:name``), the ``%inline`` helpers and the
``%constant``s, and it keeps the ``%typemap``/``%apply`` directives where they were written, so
that the script applies them with SWIG's own lexical scoping:

- ``(const void *buf, Py_ssize_t len)`` pairs (and their ``%apply`` copies) are one buffer
  argument;
- ``m2_ok`` (_lib.i) is an ``int`` returned only on success, 1; anything else raised;
- a pointer returned by a function named in ``M2_RETURNS_NONNULL`` is never None (NULL raised);
  a ``const char *`` result of a function in ``NEVER_NULL_STR`` (documented never NULL) is
  ``str``; any other pointer result is ``Optional``;
- a pointer argument of a type given to ``M2_NONNULL`` refuses None (ValueError); others take
  None as NULL;  ``const char *`` refuses None unless ``M2_NULLABLE_STR`` names the argument.

OpenSSL's opaque types become empty classes named after the C type with ``_ptr`` appended
(``X509_ptr``), so that passing an X509_NAME where an X509 is wanted is a type error.

Usage: ``python SWIG/gen_m2_pyi.py [--swig SWIG] [--check] [-o M2Sec/m2.pyi]``.  ``--check`` exits 1
if the file differs from what would be written (make's ``typecheck`` target and a test use it).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

INTS = {
    "int", "long", "long long", "short", "signed char", "unsigned char", "unsigned short",
    "unsigned int", "unsigned", "unsigned long", "unsigned long long", "size_t", "ssize_t",
    "Py_ssize_t", "time_t", "uint64_t", "int64_t", "uint32_t", "int32_t", "uint8_t",
}
FLOATS = {"double", "float"}
STRINGS = {"p.char", "p.q(const).char"}
# ``const char *`` results never NULL: OpenSSL documents a fixed string for the unknown case
# ("unknown", "(NONE)", ...), or an M2Sec helper substitutes one.  Every other string result is
# Optional[str].  Keyed by C name (the name before any %rename).
NEVER_NULL_STR = {
    "SSL_get_version",                                          # "unknown" before a version is set
    "SSL_state_string", "SSL_state_string_long",                # "unknown"/"UNKWN " for no state
    "SSL_alert_type_string", "SSL_alert_type_string_long",      # "U", "unknown"
    "SSL_alert_desc_string", "SSL_alert_desc_string_long",      # "UK", "unknown"
    "SSL_CIPHER_get_name", "SSL_CIPHER_get_version",            # "(NONE)" for no cipher
    "X509_verify_cert_error_string",                            # "error number N" for an unknown code
    "openssl_version_text",                                     # OpenSSL_version: "not available"
    "provider_get0_name",                                       # the name it was loaded under
    "pkcs7_type_sn",                                            # a helper: "UNDEF" for none
    "pkey_type_name",                                           # a helper: "" for none
}
BUFFER = "_Buffer"


def attrs(node):
    a = node.find("attributelist")
    return {} if a is None else {at.get("name"): at.get("value") for at in a.findall("attribute")}


def parms(node):
    """[(type, name)] of the node's parmlist (SWIG's type strings: p.q(const).char)."""
    pl = node.find("attributelist/parmlist")
    if pl is None:
        return []
    return [(attrs(p).get("type", ""), attrs(p).get("name")) for p in pl.findall("parm")]


def parm_values(node):
    """The default value of each parameter (None where it has none)."""
    pl = node.find("attributelist/parmlist")
    return [] if pl is None else [attrs(p).get("value") for p in pl.findall("parm")]


def split_decl(decl):
    """'f(p.X509,int).p.' -> 'p.' (the pointer part of the result)."""
    assert decl.startswith("f("), decl
    depth = 0
    for i, c in enumerate(decl):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return decl[i + 2:]
    raise ValueError(decl)


def strip_const(t):
    return t.replace("q(const).", "").replace("q(const) ", "")


class Stub:
    def __init__(self):
        self.nonnull_args = set()     # pointer types refusing None (M2_NONNULL)
        self.nullable_args = set()    # (type, name) arguments letting None through (M2_NULLABLE_STR...)
        self.nonnull_results = set()  # C function names whose NULL result raises
        self.ok_types = {"m2_ok"}     # result types meaning "1 or raised"
        self.buffers = []             # [(type, name), (type, name)] pairs: one buffer argument
        self.typedefs = {}            # SWIG typedefs: name -> type
        self.classes = set()
        self.funcs = {}
        self.consts = {}
        self.unknown = set()

    # -- typemaps, in file order ------------------------------------------------------------
    def typemap(self, node):
        a = attrs(node)
        method, code = a.get("method"), (a.get("code") or "").strip()
        for item in node.findall("typemapitem"):
            ps = parms(item)
            if method == "check" and len(ps) == 1:
                t, name = ps[0]
                if not code and name:       # an empty check for this name: None passes as NULL
                    self.nullable_args.add((strip_const(t), name))
                elif t.startswith("p.") and "NULL" in code and not name:
                    self.nonnull_args.add(strip_const(t))
            elif method == "in" and len(ps) == 2 and ps[1][0] == "Py_ssize_t":
                self.buffers.append(tuple(ps))
            elif method == "out" and len(ps) == 1 and ps[0][1] and ps[0][0].startswith("p."):
                self.nonnull_results.add(ps[0][1])

    def apply(self, node):
        src = tuple(parms(node))
        if src == (("p.SWIGTYPE", "M2_NONNULL_RESULT"),):  # M2_RETURNS_NONNULL(C_NAME)
            for item in node.findall("typemapitem"):
                self.nonnull_results.update(n for _, n in parms(item) if n)
            return
        if src not in self.buffers:
            return
        for item in node.findall("typemapitem"):
            self.buffers.append(tuple(parms(item)))

    # -- types ----------------------------------------------------------------------------
    def resolve(self, t):
        seen = 0
        while t in self.typedefs and seen < 10:
            t = self.typedefs[t]
            seen += 1
        return t

    def resolve_named(self, t):
        """Follow typedefs, stopping at the last name before a struct (ASN1_TIME -> ASN1_STRING)."""
        for _ in range(10):
            nxt = self.typedefs.get(t)
            if nxt is None or nxt.startswith("struct ") or not re.fullmatch(r"\w+", nxt):
                return t
            t = nxt
        return t

    def ptr_class(self, base):
        base = base.replace("struct ", "").strip()
        if not re.fullmatch(r"\w+", base):
            return None
        name = base + "_ptr"
        self.classes.add(name)
        return name

    def py_type(self, t, where, result=False, optional=True):
        t = self.resolve(strip_const(t)) if not t.startswith("p.") else t
        bare = strip_const(t)
        if bare in INTS or self.resolve(bare) in INTS:
            return "int"
        if bare in FLOATS:
            return "float"
        if bare == "void":
            return "None"
        if bare == "bool":
            return "bool"
        if t in STRINGS:
            return "Optional[str]" if optional else "str"
        if bare == "char":  # SWIG's char is a one-character str
            return "str"
        if bare == "p.PyObject":
            return "Any"
        if bare.startswith("p.") and not bare.startswith("p.p.") and not bare.startswith("p.f("):
            base = self.resolve_named(bare[2:])
            if base in ("void", "unsigned char", "int", "size_t"):
                self.unknown.add("%s (%s)" % (t, where))
                return "Any"
            cls = self.ptr_class(base)
            if cls:
                return "Optional[%s]" % cls if optional else cls
        self.unknown.add("%s (%s)" % (t, where))
        return "Any"

    # -- declarations ---------------------------------------------------------------------
    def function(self, node, a):
        pyname = a.get("sym_name")
        if not pyname or pyname.startswith("_"):
            return
        cname = a.get("name")
        ptr = split_decl(a["decl"])
        rtype = a.get("type", "")
        args = []
        ps = parms(node)
        if ps == [("void", None)]:
            ps = []
        default = {i: v for i, v in enumerate(parm_values(node)) if v is not None}
        i = 0
        while i < len(ps):
            pair = tuple(ps[i:i + 2])
            if len(pair) == 2 and pair in self.buffers:
                args.append((pair[0][1], BUFFER, i in default))
                i += 2
                continue
            t, name = ps[i]
            bare = strip_const(t)
            if (bare, name) in self.nullable_args:
                py = self.py_type(t, pyname)
                py = py if py.startswith("Optional[") or py == "Any" else "Optional[%s]" % py
            elif t in STRINGS or (bare.startswith("p.") and bare in self.nonnull_args):
                py = self.py_type(t, pyname, optional=False)
            else:
                py = self.py_type(t, pyname)
            if py != "Any" and default.get(i) == "NULL" and not py.startswith("Optional["):
                py = "Optional[%s]" % py
            args.append((name or "arg%d" % i, py, i in default))
            i += 1
        full = ptr + rtype
        if full == "p.PyObject" and a.get("code"):
            ret = self.pyobject_result(a["code"])
        elif rtype in self.ok_types and not ptr:
            ret = "int"
        elif ptr.startswith("p.") and (cname in self.nonnull_results or (full in STRINGS and cname in NEVER_NULL_STR)):
            ret = self.py_type(full, pyname, result=True, optional=False)
        else:
            ret = self.py_type(full, pyname, result=True)
        seen = set()
        out = []
        for n, py, has_default in args:
            n = re.sub(r"\W", "_", n)
            if n in seen or n in KEYWORDS:
                n += "_"
            seen.add(n)
            out.append("%s: %s%s" % (n, py, " = ..." if has_default else ""))
        # SWIG wrappers take positional arguments only (no -keyword): say so.
        sig = ", ".join(out + ["/"]) if out else ""
        self.funcs[pyname] = "def %s(%s) -> %s: ..." % (pyname, sig, ret)

    # -- what a helper returning PyObject * gives back ----------------------------------------
    # The helper's C body (SWIG's tree keeps %inline code) says it: every `return` is an error
    # (NULL, an m2_raise call) or builds one kind of object (PyBytes_*, PyLong_*, None, ...),
    # directly or through a local variable assigned only such values.  Anything else is Any.
    BUILDERS = [
        (r"PyBytes_From\w*\(|PyBytes_FromStringAndSize\(", "bytes"),
        (r"PyLong_From\w*\(", "int"),
        (r"PyUnicode_\w*\(", "str"),
        (r"PyBool_FromLong\(", "bool"),
        (r"PyFloat_FromDouble\(", "float"),
        (r"PyList_New\(", "list[Any]"),
        (r'Py_BuildValue\("\(', "tuple[Any, ...]"),
        (r"PyTuple_(New|Pack)\(", "tuple[Any, ...]"),
        (r"PyDict_New\(", "dict[Any, Any]"),
    ]
    ERRORS = re.compile(r"^(\(\w+\s*\*\)\s*)?(NULL|0|m2_\w*raise\w*\(.*|PyErr_\w+\(.*|raise_ossl_error\(.*)$", re.S)

    def _kind(self, expr, code, depth=0):
        expr = expr.strip()
        if self.ERRORS.match(expr):
            return "error"
        if re.fullmatch(r"Py_NewRef\(Py_None\)|Py_None", expr):
            return "None"
        if re.fullmatch(r"Py_NewRef\(Py_(True|False)\)|Py_(True|False)", expr):
            return "bool"
        for pat, kind in self.BUILDERS:
            if re.match(pat, expr):
                return kind
        m = re.fullmatch(r"(\w+)\(.*\)", expr, re.S)
        if m and m.group(1) in self.helper_code and depth < 4:
            return self.pyobject_kind(self.helper_code[m.group(1)], depth + 1)
        if re.fullmatch(r"\w+", expr) and depth < 4:   # a local: what is assigned to it
            kinds = set()
            for rhs in re.findall(r"\b%s\s*=\s*([^;=][^;]*);" % re.escape(expr), code):
                k = self._kind(rhs, code, depth + 1)
                if k != "error":
                    kinds.add(k)
            if len(kinds) == 1:
                return kinds.pop()
        return "Any"

    def pyobject_kind(self, code, depth=0):
        kinds = set()
        if "Py_RETURN_NONE" in code:
            kinds.add("None")
        if "Py_RETURN_TRUE" in code or "Py_RETURN_FALSE" in code:
            kinds.add("bool")
        for expr in re.findall(r"\breturn\b([^;]*);", code):
            k = self._kind(expr, code, depth)
            if k != "error":
                kinds.add(k)
        if not kinds or "Any" in kinds:
            return "Any"
        if kinds == {"None"}:
            return "None"
        rest = sorted(kinds - {"None"})
        if len(rest) > 1:
            return "Any"
        return "Optional[%s]" % rest[0] if "None" in kinds else rest[0]

    def pyobject_result(self, code):
        return self.pyobject_kind(code)

    def constant(self, a):
        name = a.get("sym_name") or a.get("name")
        t = a.get("type", "")
        if t in STRINGS:
            py = "str"
        else:
            py = self.py_type(t, name, optional=False)
        self.consts[name] = "%s: %s" % (name, py)

    def walk(self, root):
        self.helper_code = {}
        for node in root.iter("cdecl"):
            a = attrs(node)
            if a.get("kind") == "function" and a.get("code") and a.get("name"):
                self.helper_code[a["name"]] = a["code"]
        self.c_types = set()
        for node in root.iter("insert"):       # %{ ... %} blocks: the C-only helpers they call
            code = attrs(node).get("code") or ""
            # C types added to the module by hand (PyModule_AddObject in %init): no SWIG declaration
            # says their methods, so the stub gives them as untyped
            self.c_types.update(re.findall(r'PyModule_AddObject\(\w+, "(\w+)", Py_NewRef\(&\w+_type\)\)', code))
            for m in re.finditer(r"^static PyObject \*(\w+)\([^)]*\)\s*\{(.*?)^\}", code, re.M | re.S):
                self.helper_code.setdefault(m.group(1), m.group(2))
        for node in root.iter():
            tag = node.tag
            if tag == "typemap":
                self.typemap(node)
            elif tag == "apply":
                self.apply(node)
            elif tag == "cdecl":
                a = attrs(node)
                kind = a.get("kind")
                if kind == "typedef":
                    self.typedefs[a.get("name")] = a.get("type")
                    if a.get("name") and a.get("type") == "int" and a.get("name").endswith("_ok"):
                        self.ok_types.add(a.get("name"))
                elif kind == "function":
                    self.function(node, a)
                elif kind == "variable" and a.get("sym_name"):
                    self.unknown.add("variable %s" % a.get("sym_name"))
            elif tag == "constant":
                self.constant(attrs(node))

    def text(self):
        lines = [
            "# M2Sec._m2sec, the C module, as M2Sec.m2 re-exports it.  GENERATED by SWIG/gen_m2_pyi.py",
            "# from the SWIG declarations (swig -xml SWIG/_m2sec.i): do not edit; `make` rewrites it.",
            "from typing import Any, Optional, Union",
            "",
            "# Bytes-like input (the buffer protocol; str is refused).",
            "%s = Union[bytes, bytearray, memoryview]" % BUFFER,
            "",
            "class SwigPyObject:",
            '    """An OpenSSL pointer as SWIG wraps it (opaque; int() gives its address)."""',
            "    def __int__(self) -> int: ...",
            "",
        ]
        for c in sorted(self.classes):
            lines.append("class %s(SwigPyObject): ..." % c)
        for c in sorted(self.c_types):
            lines += ["", "class %s:  # a C type of %%init, not a SWIG declaration: untyped" % c,
                      "    def __init__(self, *args: Any, **kwargs: Any) -> None: ...",
                      "    def __getattr__(self, name: str) -> Any: ..."]
        lines.append("")
        for name in sorted(self.consts):
            if name not in self.funcs:
                lines.append(self.consts[name])
        lines.append("")
        for name in sorted(self.funcs):
            lines.append(self.funcs[name])
        return "\n".join(lines) + "\n"


KEYWORDS = {"from", "in", "is", "as", "def", "class", "pass", "lambda", "global", "type", "None", "str", "int"}


def swig_xml(swig):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "m2sec.xml")
        subprocess.run([swig, "-xml", "-I" + HERE, "-o", out, os.path.join(HERE, "_m2sec.i")],
                       check=True, cwd=ROOT)
        return ET.parse(out).getroot()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--swig", default=os.environ.get("SWIG") or shutil.which("swig") or "swig")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "M2Sec", "m2.pyi"))
    ap.add_argument("--check", action="store_true", help="exit 1 if the stub is out of date")
    ap.add_argument("-v", "--verbose", action="store_true", help="list what became Any")
    opts = ap.parse_args()
    stub = Stub()
    stub.walk(swig_xml(opts.swig))
    text = stub.text()
    if opts.verbose:
        for u in sorted(stub.unknown):
            print("Any:", u, file=sys.stderr)
    try:
        with open(opts.output) as fh:
            old = fh.read()
    except OSError:
        old = None
    if opts.check:
        if old != text:
            sys.exit("%s is out of date: run `python SWIG/gen_m2_pyi.py` (make does)" % opts.output)
        return
    if old != text:
        with open(opts.output, "w") as fh:
            fh.write(text)
    print("%s: %d functions, %d constants" % (os.path.relpath(opts.output, ROOT), len(stub.funcs), len(stub.consts)))


if __name__ == "__main__":
    main()
