"""``imgfinder similar``: the photos most like each query, as text, JSON, CSV or lines."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..cli_text import display_path, human_size, percent, table
from .common import EXIT_OK, EXIT_UNREADABLE, UsageError, _cell, _leave_out, _note, _write_csv, _write_lines


def _text_rows(hit) -> list[list[str]]:
    """A result's table row, then one indented row per edited copy folded under it."""
    def name(h) -> str:
        return display_path(h.row.path) + (
            f"  (and {len(h.same_files)} identical: {', '.join(map(display_path, h.same_files))})" if h.same_files else "")

    rows = [[percent(hit.score), f"{hit.row.width}x{hit.row.height}", human_size(hit.row.size),
             name(hit) + (f"  +{len(hit.copies)} edited {'copy' if len(hit.copies) == 1 else 'copies'}:"
                          if hit.copies else "")]]
    rows += [[percent(c.score), f"{c.row.width}x{c.row.height}", human_size(c.row.size), "    " + name(c)]
             for c in hit.copies]
    return rows


def _cmd_similar(library, args: argparse.Namespace) -> int:
    """One query: ``{"query", "results"}``; several: ``{"queries": [{"query", "results"}, ...]}``,
    a query that cannot be read carrying ``"error"`` instead of results (exit code 2)."""
    from ..core.decoder import DecodeError
    from ..core.export import hits_json

    leave_out = _leave_out(args)
    paths = [os.path.abspath(q) for q in args.queries]
    answers: list[dict] = []
    found_hits: list[list] = []  # per answer: its SimilarHits
    failed = False
    for path, found in zip(paths, library.describe_paths(paths)):
        if os.path.isdir(path):
            found = DecodeError("is a folder, not a photo")
        if isinstance(found, DecodeError):
            if len(paths) == 1:
                raise UsageError(f"cannot read {display_path(str(args.queries[0]))}: {found.reason}")
            answers.append({"query": path, "error": found.reason})
            found_hits.append([])
            failed = True
            continue
        hits = [h for h in library.similar_to_descriptor(found, args.k, exclude=path, leave_out=leave_out,
                                                         fold=not args.each_copy)
                if h.score >= args.min_score]
        answers.append({"query": path, "results": hits_json(library.catalog, hits)})
        found_hits.append(hits)
    code = EXIT_UNREADABLE if failed else EXIT_OK
    if args.format == "json":
        print(json.dumps(answers[0] if len(answers) == 1 else {"queries": answers}, indent=2))
        return code
    if args.format in ("csv", "lines"):
        if args.format == "csv":
            _write_csv(SIMILAR_CSV, [
                [a["query"], n, f"{c.score:.6f}", c.row.path, c.row.size, _cell(c.row.width), _cell(c.row.height),
                 "" if c is h else h.row.path]
                for a, hits in zip(answers, found_hits) for n, h in enumerate(hits, 1) for c in (h, *h.copies)
            ])
        else:
            _write_lines([[a["query"], *(c.row.path for h in hits for c in (h, *h.copies))]
                          for a, hits in zip(answers, found_hits) if "error" not in a], args.null)
        for a in answers:
            if "error" in a:
                _note(f"cannot read {display_path(a['query'])}: {a['error']}")
        return code
    rows = [[row for h in hits for row in _text_rows(h)] for hits in found_hits]
    indent = "  " if len(answers) > 1 else ""
    lines = iter(table([r for answer_rows in rows for r in answer_rows], right=(True, True, True), indent=indent))
    for answer, answer_rows in zip(answers, rows):
        query = display_path(answer["query"])
        if "error" in answer:
            sys.stdout.flush()
            _note(f"cannot read {query}: {answer['error']}")
            continue
        if len(answers) > 1:
            print(f"{query}:")
        for _ in answer_rows:
            print(next(lines))
        if not answer_rows and args.min_score > 0:
            sys.stdout.flush()
            _note(f"no indexed photo is at least {percent(args.min_score)} similar to {query}")
        elif not answer_rows:  # every file indexed was unreadable, or the query is the only photo
            sys.stdout.flush()
            _note(f"nothing to compare {query} with: the library holds no other photo that could be read "
                  "('imgfinder index' lists what could not be read)")
    return code


# -- machine output: CSV and one group per line ------------------------------------------------
# copy_of: the result a row is an edited copy of (its rank is that one's); empty for a result.
SIMILAR_CSV = ["query", "rank", "similarity", "path", "size", "width", "height", "copy_of"]
