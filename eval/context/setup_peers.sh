#!/usr/bin/env bash
# Build the medspaCy peer's own venv for the ConText benchmark.
#
# medspaCy 1.3.1 pins spacy<3.8 on Python 3.11 (and pulls medspacy_quickumls),
# so it cannot share casenotes' venv (spaCy 3.8). It gets its own venv beside
# this script, .venv-medspacy/, which .gitignore's `.venv-*/` pattern ignores.
# bench.py runs medspacy_peer.py with that venv's interpreter.
#
# Usage: bash eval/context/setup_peers.sh      (idempotent; about a minute)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-medspacy"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The plain install resolves: spaCy 3.7.x, PyRuSH, pysbd 0.3.4, jsonschema and
# medspacy_quickumls (pysimstring, medspacy_unqlite) all ship wheels or build.
if ! "$venv/bin/python" -m pip install --quiet "spacy<3.8" "medspacy==1.3.1"; then
    # Fallback: medspaCy without its dependency resolution, then the deps the
    # ConText part imports (quickumls is imported by medspacy.util at import).
    "$venv/bin/python" -m pip install --quiet "spacy<3.8" PyRuSH "pysbd==0.3.4" jsonschema
    "$venv/bin/python" -m pip install --quiet --no-deps "medspacy==1.3.1" "medspacy_quickumls==3.2"
    "$venv/bin/python" -m pip install --quiet unidecode nltk six pysimstring medspacy_unqlite
fi
"$venv/bin/python" -c "import medspacy, spacy; print('medspaCy', medspacy.__version__, 'on spaCy', spacy.__version__)"
