"""What this installation of fastdilate was built with and will run."""
from ._dispatch import core
from ._version import __version__


def build_info() -> dict[str, object]:
    """Facts about the compiled core in use.

    Returns
    -------
    dict
        ``version``; ``openmp`` (whether OpenMP is compiled in; without it
        every call runs serially); ``isa`` (the instruction set the loaded
        core was built for); ``core`` (its module name); ``compiler``;
        ``default_num_threads`` (OpenMP's current default team size).
    """
    facts = core.build_facts()
    return {
        "version": __version__,
        "openmp": facts["openmp"],
        "isa": facts["isa"],
        "core": core.__name__,
        "compiler": facts["compiler"],
        "default_num_threads": core.default_num_threads(),
    }
