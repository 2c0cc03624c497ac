"""``leod import-labels FILE --round K``: a person's boxes back into label tables.

FILE: what the labelling tool returned for an ``leod export-labels`` export: Label Studio JSON (tasks),
CVAT for video 1.1 XML (one sequence) or COCO JSON. The export's ``manifest.json`` (beside FILE or one
folder up, or ``--manifest``) maps image pixels and frame numbers back to sensor pixels and timestamps;
a box outside the image or on a frame not exported stops the import in one line.

Merges the reviewed frames into the human ground-truth table ``paths.human_labels`` (a frame reviewed
again replaces its earlier boxes; a frame left empty is recorded as reviewed without boxes): ``dvc repro``
pseudo-labels every round k >= 1 with them as ground truth. Also writes this import's boxes
(``source: human``) and round K's table with the reviewed frames replaced by them (``leod train --labels``).
"""

from __future__ import annotations

import argparse

from flows.cli_args import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("file", metavar="FILE", help="returned labels: Label Studio .json, CVAT .xml or COCO .json")
    parser.add_argument("--round", type=int, required=True, dest="round_idx",
                        help="round K the export was made from (its table is the base of the merged table)")
    parser.add_argument("--manifest", default=None, help="the export's manifest.json (default: found beside FILE)")
    parser.add_argument("--out", default=None,
                        help="the person's boxes (default: <artifacts>/labelling/round_K/human.parquet)")
    parser.add_argument("--merged", default=None,
                        help="round K's table with the reviewed frames replaced "
                             "(default: <artifacts>/labelling/round_K/labels.parquet)")
    parser.add_argument("--table", default=None,
                        help="the human ground-truth table to merge into (default: paths.human_labels)")
    parser.add_argument("--skip-unreviewed", action="store_true",
                        help="Label Studio: drop tasks without an annotation (default: keep their pre-annotations)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.settings import load_config
    from leod_core.labelling.importing import human_table, merge_human, read_returned
    from leod_core.labelling.manifest import find_manifest, read_manifest
    from leod_core.labelling.paths import HUMAN_FILE, MERGED_FILE, labelling_dir
    from leod_core.labels.human import HumanLabels, merge_reviewed, read_human, write_human
    from leod_core.labels.table import read_labels, write_labels

    cfg = load_config(args.params, args.overrides)
    k = args.round_idx
    if k < 0:
        raise ValueError(f"--round must be >= 0, got {k}")
    if not Path(args.file).is_file():
        raise FileNotFoundError(f"labels file not found: {args.file}")
    manifest = read_manifest(args.manifest or find_manifest(args.file))
    if manifest.round != k:
        raise ValueError(f"{args.file}: the export is of round {manifest.round}, not --round {k}")
    if manifest.camera != cfg.camera.name:
        raise ValueError(f"{args.file}: the export is of camera {manifest.camera!r}, the params' is {cfg.camera.name!r}")
    base_p = cfg.layout.round(k).labels
    if not base_p.is_file():
        raise FileNotFoundError(f"round {k}'s labels not found: {base_p}")
    returned = read_returned(args.file, manifest)
    if args.skip_unreviewed and returned.unreviewed:
        drop = set(returned.unreviewed)
        returned.boxes = returned.boxes[~returned.boxes["frame"].isin(drop)]
        returned.frames = [n for n in returned.frames if n not in drop]
    human = human_table(returned, manifest, args.file)
    reviewed = {(manifest.frames[n].sequence, manifest.frames[n].frame_idx) for n in returned.frames}
    merged = merge_human(read_labels(base_p), human, reviewed)
    out = Path(args.out) if args.out else labelling_dir(cfg.layout, k) / HUMAN_FILE
    merged_p = Path(args.merged) if args.merged else labelling_dir(cfg.layout, k) / MERGED_FILE
    frames = [manifest.frames[n] for n in returned.frames]
    table_p = Path(args.table or cfg.paths.human_labels)
    table = merge_reviewed(read_human(table_p), HumanLabels(human, [(f.sequence, f.frame_idx, f.t) for f in frames]))
    write_labels(human, out)
    write_labels(merged, merged_p)
    write_human(table, table_p)  # last: the pipeline's input changes only once the files above are written
    empty = len(reviewed) - human[["sequence", "frame_idx"]].drop_duplicates().shape[0]
    unrev = f", {len(returned.unreviewed)} only pre-annotated" if returned.unreviewed and not args.skip_unreviewed else ""
    print(f"import-labels round {k}: {len(human)} boxes on {len(reviewed)} frames ({empty} left empty{unrev}) "
          f"-> {out}; round table with them -> {merged_p}; human ground truth -> {table_p} "
          f"({len(table.boxes)} boxes on {len(table.reviewed)} frames)")
    return 0
