#!/usr/bin/env bash
# The documentation site: first the docstring examples run as doctests, then Sphinx
# builds the guides (docs/*.md), the notebooks (rendered as stored, not executed) and one
# API page per public module (docs/_ext/apipages.py) into OUT. Any warning fails it, a
# reference that points nowhere included (nitpicky). CI runs it (.ci/run).
#
#   pip install ".[test]" --group docs      # once (pip >= 25.1)
#   bash tools/build-docs.sh [OUT]          # OUT defaults to build/docs; open OUT/index.html
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/docs}

# python -m puts this checkout first on sys.path: the examples and pages are of this tree
python -m pytest -p no:cacheprovider -q --doctest-modules e2e_coffea
python -m sphinx -W --keep-going -n -q -b html -c docs . "$out"
echo "docs: $out/index.html"
