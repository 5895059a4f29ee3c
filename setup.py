"""Build the compiled core from one source several times: a baseline build
that runs on any CPU of the platform and, on x86-64, AVX2+FMA and AVX-512
builds, one of which is chosen at import when the CPU supports it.  OpenMP is used when the compiler accepts it;
FASTDILATE_DISABLE_OPENMP=1 builds a serial core.  Beside it, once: the
output pool (_memory)."""
import os
import sys
import sysconfig
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "freethreading_compatible": True,
}


def _targets_x86_64():
    platform = sysconfig.get_platform()
    archflags = os.environ.get("ARCHFLAGS", "")
    if "arm64" in archflags or "universal2" in platform:
        return False
    return platform.endswith(("x86_64", "amd64")) or platform == "win-amd64"


def _openmp_flags(compiler_type):
    """(compile flags, link flags) that turn OpenMP on for this compiler."""
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":  # Apple clang with Homebrew's / the wheel's libomp
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def _compiles_with(compiler, compile_flags, link_flags):
    """Whether a tiny OpenMP program compiles and links with these flags.

    It is linked as a shared object, as the extensions are: only that linker
    command carries LDFLAGS (setuptools leaves them off executables), and on
    macOS LDFLAGS is what points -lomp at Homebrew's libomp.
    """
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "omp_probe.c")
        with open(source, "w") as f:
            f.write("#include <omp.h>\nint fd_omp_probe(void){return omp_get_max_threads();}\n")
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=compile_flags)
            compiler.link_shared_object(objects, compiler.shared_object_filename("omp_probe"),
                                        output_dir=tmp, extra_postargs=link_flags)
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # the core's builds compile side by side, one per CPU
            self.parallel = True

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        optimise = ["/O2"] if ctype == "msvc" else ["-O3"]
        compile_omp, link_omp = _openmp_flags(ctype)
        use_openmp = os.environ.get("FASTDILATE_DISABLE_OPENMP", "0") in ("", "0")
        if use_openmp and not _compiles_with(self.compiler, compile_omp, link_omp):
            print("fastdilate: the compiler does not accept OpenMP; building a serial core")
            use_openmp = False
        for ext in self.extensions:
            ext.extra_compile_args = optimise + ext.extra_compile_args
            if use_openmp:
                ext.extra_compile_args += compile_omp
                ext.extra_link_args += link_omp
        super().build_extensions()


# x86-64 builds beyond the baseline: module suffix -> (GCC/Clang flags, MSVC flags).
X86_VARIANTS = {
    "avx2": (["-mavx2", "-mfma"], ["/arch:AVX2"]),
    "avx512": (["-mavx512f", "-mavx2", "-mfma"], ["/arch:AVX512"]),
}


def _x86_variants():
    """The x86-64 builds to compile beside the baseline: all of them, or the
    ones FASTDILATE_X86_BUILDS names (comma-separated, empty for none) for a
    quicker build that tests one of them."""
    chosen = os.environ.get("FASTDILATE_X86_BUILDS")
    if chosen is None:
        return X86_VARIANTS
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = sorted(set(names) - set(X86_VARIANTS))
    if unknown:
        sys.exit(f"FASTDILATE_X86_BUILDS: unknown build(s) {unknown}; "
                 f"the x86-64 builds are {', '.join(X86_VARIANTS)}")
    return {name: X86_VARIANTS[name] for name in names}


def _extensions():
    sources = "src/fastdilate"
    include_dirs = [sources, numpy.get_include()]
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION")]
    extensions = [Extension("fastdilate._core", [f"{sources}/_core.pyx"],
                            include_dirs=include_dirs, define_macros=macros),
                  Extension("fastdilate._memory", [f"{sources}/_memory.pyx"],
                            include_dirs=include_dirs, define_macros=macros)]
    if _targets_x86_64():
        for suffix, (gnu_flags, msvc_flags) in _x86_variants().items():
            flags = msvc_flags if sys.platform == "win32" else gnu_flags
            extensions.append(
                Extension(f"fastdilate._core_{suffix}", [f"{sources}/_core_{suffix}.pyx"],
                          include_dirs=include_dirs, define_macros=macros,
                          extra_compile_args=flags))
    return cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
