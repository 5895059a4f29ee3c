"""The distribution as a user receives it: its metadata, what an installed
wheel holds, and what the sdist carries.

Some checks need an installed wheel or an sdist, and skip without one:
``.ci/run`` and cibuildwheel run them on every build.
  FASTDILATE_REQUIRE_OPENMP=1  the build must have OpenMP compiled in
  FASTDILATE_SDIST=PATH        the sdist to inspect
"""
import importlib.metadata
import os
import re
import tarfile
from pathlib import PurePosixPath

import pytest

import fastdilate as fd

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]


@pytest.fixture(scope="module")
def distribution():
    try:
        return importlib.metadata.distribution("fastdilate")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("fastdilate is not installed (running from src): no metadata")


def _installed_from_wheel(distribution):
    files = distribution.files or []
    return any(str(f) == "fastdilate/__init__.py" for f in files)


# ---------------------------------------------------------------- metadata
def test_version_has_one_source(distribution):
    from fastdilate import _version

    assert distribution.version == _version.__version__ == fd.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", fd.__version__)


def test_metadata_describes_a_real_package(distribution):
    meta = distribution.metadata
    assert meta["Name"] == "fastdilate"
    assert meta["Summary"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert any(str(name).endswith("LICENSE") for name in meta.get_all("License-File") or [])
    assert meta["Description-Content-Type"] == "text/markdown"
    # The body, or the Description field where the importlib_metadata backport
    # (which dask imports) has moved it.
    description = meta.get_payload() or meta["Description"] or ""
    assert "fastdilate" in description, "no long description (the README)"
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(urls)
    classifiers = meta.get_all("Classifier")
    for version in PYTHONS:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the SPDX expression says it
    requires = meta.get_all("Requires-Dist")
    assert any(re.match(r"numpy\b", r) for r in requires)
    assert "test" in meta.get_all("Provides-Extra")


def test_core_dependencies_are_only_numpy(distribution):
    core = [r for r in distribution.requires if "extra ==" not in r]
    assert [re.match(r"[A-Za-z0-9_.-]+", r).group() for r in core] == ["numpy"]


# ------------------------------------------------------------ installed wheel
def test_wheel_holds_the_compiled_core_and_its_stubs_not_its_sources(distribution):
    if not _installed_from_wheel(distribution):
        pytest.skip("not installed from a wheel (editable install?)")
    names = {str(f) for f in distribution.files}
    package = {PurePosixPath(n).name for n in names if n.startswith("fastdilate/")}
    assert any(re.match(r"_core\.(.+\.)?(so|pyd)$", n) for n in package), sorted(package)
    assert {"_core.pyi", "py.typed", "_version.py"} <= package
    leaked = sorted(n for n in package if n.endswith((".pyx", ".pxi", ".pxd", ".c", ".h")))
    assert not leaked, f"build sources in the wheel: {leaked}"
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)


def test_build_has_openmp_when_required():
    if os.environ.get("FASTDILATE_REQUIRE_OPENMP", "0") in ("", "0"):
        pytest.skip("set FASTDILATE_REQUIRE_OPENMP=1 to require an OpenMP build")
    info = fd.build_info()
    assert info["openmp"], f"this build has no OpenMP (the compiler probe failed?): {info}"


# ---------------------------------------------------------------------- sdist
def test_sdist_carries_what_a_build_needs_and_no_generated_c():
    path = os.environ.get("FASTDILATE_SDIST")
    if not path:
        pytest.skip("set FASTDILATE_SDIST=path/to/fastdilate-*.tar.gz to inspect an sdist")
    with tarfile.open(path) as sdist:
        names = {PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() for n in sdist.getnames()}
    needed = {
        "pyproject.toml", "setup.py", "PKG-INFO", "README.md", "LICENSE", "CHANGELOG.md",
        "MANIFEST.in",
        "src/fastdilate/__init__.py", "src/fastdilate/_version.py",
        "src/fastdilate/_core.pyx", "src/fastdilate/_core_avx2.pyx", "src/fastdilate/_core_avx512.pyx",
        "src/fastdilate/_simd.h", "src/fastdilate/_core_wavelets.pxi",
        "src/fastdilate/wavelets/__init__.py",
        "src/fastdilate/_platform.h", "src/fastdilate/_core.pyi", "src/fastdilate/py.typed",
        "tests/conftest.py",
    }
    assert needed <= names, f"missing from the sdist: {sorted(needed - names)}"
    with tarfile.open(path) as sdist:
        core = next(m for m in sdist.getmembers() if m.name.endswith("src/fastdilate/_core.pyx"))
        included = re.findall(r'^include "([^"]+)"', sdist.extractfile(core).read().decode(), re.M)
    assert included, "_core.pyx includes its kernel families"
    missing = sorted(f for f in included if f"src/fastdilate/{f}" not in names)
    assert not missing, f"files that _core.pyx includes are missing from the sdist: {missing}"
    unwanted = sorted(n for n in names
                      if n.endswith((".c", ".cpp", ".so", ".pyd", ".o", ".pyc", ".html"))
                      or n.startswith((".ci/", ".github/", "build/", "dist/", "wheelhouse/"))
                      or "/__pycache__/" in n or n.startswith(".venv"))
    assert not unwanted, f"the sdist carries build products or CI files: {unwanted}"
