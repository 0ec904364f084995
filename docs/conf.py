"""Sphinx configuration of the API reference site: ``bash tools/build-docs.sh``.

The source directory is the repository root (``sphinx-build -c docs . build/docs``), so
that docs/*.md and notebooks/*.ipynb are rendered where they are, with their relative
links intact; ``include_patterns`` keeps everything else out. The API pages are generated
at build time by docs/_ext/apipages.py, one per public module. Nitpicky mode (``-n``) with
``-W`` makes any reference that points nowhere fail the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

import e2e_coffea  # noqa: E402

project = "e2e-coffea"
author = "e2e-coffea developers"
copyright = "e2e-coffea developers"
release = version = e2e_coffea.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_nb",  # Markdown (MyST) and notebooks, without pandoc
    "apipages",
]

root_doc = "docs/index"
include_patterns = ["docs/*.md", "docs/_api/*.rst", "notebooks/*.ipynb"]
# pruned from the walk: virtual environments (.venv ...), build outputs, generated samples
exclude_patterns = [
    ".*",
    "build",
    "dist",
    "samples",
    "results",
    "out",
    "test-artifacts",
    "notebooks/samples",
    "notebooks/runs",
    "notebooks/models",
    "docs/_ext",
    "docs/_extra",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# The notebooks are rendered as they are stored (no outputs): executing them generates
# samples and runs taggers, which tests/notebooks/ already does.
nb_execution_mode = "off"
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# Docstrings write absolute values the physicist's way, |eta|, which reST reads as a
# substitution: make each one stand for itself.
rst_prolog = "\n".join(
    rf".. |{name}| replace:: \|{name}\|" for name in ("eta", "z", "pdgId", "id", "d0sig")
)

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

nitpicky = True
# Types of other libraries, by the short names the package imports them as (``np``,
# ``ak``, click's ``t``): they are not ours to document, and without intersphinx (the
# build is offline) they cannot resolve. Fully spelled ones (``pathlib.Path``) need no
# entry: docs/_ext/apipages.py shows any object that exists outside e2e_coffea as text.
nitpick_ignore_regex = [
    (r"py:.*", r"(ak|np|npt|nn|t|ort|mpl|plt|pa|pq)\..*"),
    # dask_cuda is in the gpu extra only: not installed where the site is built
    (r"py:.*", r"dask_cuda\..*"),
]
autodoc_inherit_docstrings = False  # torch's nn.Module.forward docstring is not ours

html_theme = "alabaster"
html_title = f"e2e-coffea {release}"
html_static_path: list[str] = []
html_extra_path = ["_extra"]  # build/docs/index.html: a link to docs/index.html
