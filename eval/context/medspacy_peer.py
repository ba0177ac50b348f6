"""medspaCy's ConText on the ConText benchmark; run with eval/context/.venv-medspacy's Python.

Reads the benchmark TSV, finds each concept span exactly as bench.py does (it
imports `load_rows` and `find_concept_span` from bench.py, which needs only the
standard library), runs medspaCy's default pipeline (medspaCy tokenizer, PyRuSH
sentence splitter, ConText with its default English rules) with the span set as
the one entity, and prints JSON: versions, ms per sentence and one prediction
per row.

    .venv-medspacy/bin/python eval/context/medspacy_peer.py --tsv PATH [--limit N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

__all__ = ["main"]

HERE = Path(__file__).resolve().parent


def _bench():
    spec = importlib.util.spec_from_file_location("context_bench", HERE / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    bench = _bench()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tsv", type=Path, default=bench.DEFAULT_TSV)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    import medspacy
    import spacy
    from spacy.tokens import Span

    nlp = medspacy.load()
    sentences = nlp.get_pipe("medspacy_pyrush")
    context = nlp.get_pipe("medspacy_context")
    rows = bench.load_rows(args.tsv)[: args.limit]
    spans, _ = bench.target_spans(rows)

    predictions = []
    started = time.perf_counter()
    for row, (start, end) in zip(rows, spans):
        doc = sentences(nlp.make_doc(row.sentence))
        target = doc.char_span(start, end, alignment_mode="expand")
        doc.ents = [Span(doc, target.start, target.end, label="TARGET")]
        entity = context(doc).ents[0]
        predictions.append({
            "negated": bool(entity._.is_negated),
            "historical": bool(entity._.is_historical),
            "hypothetical": bool(entity._.is_hypothetical),
            "other_experiencer": bool(entity._.is_family),
        })
    ms = (time.perf_counter() - started) * 1000 / max(len(rows), 1)
    json.dump({"medspacy": medspacy.__version__, "spacy": spacy.__version__, "ms_per_sentence": ms,
               "predictions": predictions}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
