"""Build M2Sec._m2sec from SWIG/_m2sec.i against the system OpenSSL 3.

OpenSSL is found with pkg-config, or under OPENSSL_DIR (with include/ and lib/ or lib64/).
OPENSSL_STATIC=1 links OPENSSL_DIR's static libraries into the extension with their symbols
hidden (the self-contained wheel of `make wheel`).
"""
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MIN_OPENSSL = (3, 0)
HINT = "install the OpenSSL 3 development files (Debian: apt-get install libssl-dev) or set OPENSSL_DIR"


def _pkg_config(*args):
    if not shutil.which("pkg-config"):
        return None
    try:
        out = subprocess.run(["pkg-config", *args, "openssl"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.split()


def find_openssl():
    """Return (include_dirs, library_dirs, rpath) of the OpenSSL to build against.

    rpath is the library directory of an OpenSSL outside the system's default search path
    (OPENSSL_DIR, or a pkg-config file naming a -L directory), so that the extension loads the
    OpenSSL it was built for rather than the system's.
    """
    root = os.environ.get("OPENSSL_DIR")
    if root:
        libs = [d for d in (os.path.join(root, "lib64"), os.path.join(root, "lib")) if os.path.isdir(d)]
        return [os.path.join(root, "include")], libs, libs
    cflags = _pkg_config("--cflags-only-I")
    ldflags = _pkg_config("--libs-only-L")
    incs = [f[2:] for f in cflags or []]
    libs = [f[2:] for f in ldflags or []]
    if not incs:
        incs = ["/usr/include", "/usr/local/include"]
    # pkg-config leaves out -L for the system's own directories: what it names is elsewhere.
    return incs, libs, libs


def check_openssl(include_dirs):
    """Stop the build with one line if the headers are missing or older than 3.0."""
    for d in include_dirs:
        header = os.path.join(d, "openssl", "opensslv.h")
        if os.path.exists(header):
            with open(header) as fh:
                text = fh.read()
            m = re.search(r"#\s*define\s+OPENSSL_VERSION_MAJOR\s+(\d+)", text)
            n = re.search(r"#\s*define\s+OPENSSL_VERSION_MINOR\s+(\d+)", text)
            version = (int(m.group(1)), int(n.group(1))) if m and n else (1, 1)
            if version < MIN_OPENSSL:
                sys.exit("error: M2Sec needs OpenSSL 3.0 or newer, found %d.%d in %s: %s" % (version + (d, HINT)))
            return d
    sys.exit("error: OpenSSL headers (openssl/opensslv.h) not found: " + HINT)


class BuildExt(build_ext):
    def run(self):
        for ext in self.extensions:
            check_openssl(ext.include_dirs)
        if not shutil.which("swig"):
            sys.exit("error: SWIG 4.1 or newer not found: pip install swig (or apt-get install swig)")
        super().run()


include_dirs, library_dirs, rpath = find_openssl()
here = os.path.dirname(os.path.abspath(__file__))

ext = Extension(
    "M2Sec._m2sec",
    sources=["SWIG/_m2sec.i"],
    depends=sorted(glob.glob("SWIG/*.i")),
    include_dirs=include_dirs + [os.path.join(here, "SWIG")],
    library_dirs=library_dirs,
    runtime_library_dirs=rpath,
    libraries=["ssl", "crypto"],
    swig_opts=["-ISWIG", "-O"],
    # No -Wno-deprecated-declarations: the .i files that must call deprecated APIs say so (_lib.i).
    extra_compile_args=["-Wno-unused-label", "-fno-strict-aliasing"],
    # SWIG_TYPE_TABLE: SWIG modules that share a type table (M2Crypto's names the same OpenSSL
    # types) crash when loaded in one process; M2Sec keeps its own.
    define_macros=[("OPENSSL_API_COMPAT", "0x30000000L"), ("SWIG_TYPE_TABLE", "m2sec")],
)


def static_deps(library_dirs):
    """The system libraries a static libcrypto needs (libcrypto.pc's Libs.private: -ldl, -pthread,
    and -lz when OpenSSL was configured with zlib), linked as shared libraries."""
    for d in library_dirs:
        pc = os.path.join(d, "pkgconfig", "libcrypto.pc")
        if os.path.exists(pc):
            with open(pc) as f:
                private = next((l.split(":", 1)[1].split() for l in f if l.startswith("Libs.private:")), [])
            return [a[2:] if a.startswith("-l") else "pthread" for a in private if a.startswith("-l") or a == "-pthread"]
    return ["pthread", "dl"]


def link_static(ext):
    """Link OPENSSL_DIR's libssl.a and libcrypto.a into ext, all their symbols local to it (only
    PyInit__m2sec is exported), so that a libcrypto another module loads cannot clash with them."""
    libs = [os.path.join(d, "lib%s.a" % n) for n in ("ssl", "crypto") for d in ext.library_dirs
            if os.path.exists(os.path.join(d, "lib%s.a" % n))]
    if len(libs) != 2:
        sys.exit("error: OPENSSL_STATIC=1 needs libssl.a and libcrypto.a under OPENSSL_DIR (lib/ or lib64/)")
    ext.extra_objects = libs
    ext.libraries = static_deps(ext.library_dirs)
    ext.library_dirs = ext.runtime_library_dirs = []
    ext.extra_link_args = ["-Wl,--exclude-libs,ALL", "-Wl,--version-script=" + os.path.join("SWIG", "_m2sec.map")]
    ext.depends.append(os.path.join("SWIG", "_m2sec.map"))


if os.environ.get("OPENSSL_STATIC") == "1":
    link_static(ext)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildExt})
