"""``suite check``: shape, learning and claimed symmetry of each variant, as a table."""

from __future__ import annotations

import argparse

from suite import registry
from suite.cli.args import dataset_option, variant_options
from suite.data.datasets import load_dataset
from suite.measure.conformance import INITS, LEARN_DROP, LEARN_STEPS, TOLERANCE, check_variant
from suite.plugins import load_variants
from suite.training.train import to_input


def cmd_check(args: argparse.Namespace) -> int:
    load_variants(args.plugin)
    data = load_dataset(args.dataset, args.data_dir)
    x = to_input(data.train_x[:32])  # training images: checks read no test image
    y = data.train_y[:32]
    budget = registry.parse_budget(args.budget)
    print(
        f"{'variant':14} {'claims':6} {'params':>8}  shape  learns  {'dead':>5}  {'rot90 err':>9}  "
        f"{'mirror err':>10}  {'45° err':>8}  verdict  {'(dead at some inits)':>20}"
    )
    failed = 0
    for name in registry.select(args.variants, data.task.kind):
        r = check_variant(name, x, y, budget, data.task)
        ok = r["verdict"]
        failed += not ok
        print(
            f"{name:14} {r['claims']:6} {r['params']:>8,}  {'ok' if r['shape_ok'] else 'BAD':5}  "
            f"{'ok' if r['learns'] else 'NO':6}  {r['dead_params']:>5,}  {r['rot90']:9.1e}  "
            f"{r['mirror']:10.1e}  {r['rot45']:8.1e}  {'pass' if ok else 'FAIL':7}"
            + (
                f"  warning: {r['dead_some_inits']:,} entries dead at some initialisations"
                if r["dead_some_inits"]
                else ""
            )
        )
    print(
        f"(claims are checked to {TOLERANCE:g}; the 45° error is reported, not claimed; learns: "
        f"{LEARN_STEPS} AdamW steps lower the loss by {LEARN_DROP:.0%}; dead: parameter entries that "
        f"no batch of real or random images gives a gradient at any of {len(INITS)} initialisations, "
        "which must be 0; entries dead at some initialisations only are a warning)"
    )
    return 1 if failed else 0


def add_command(commands) -> None:
    p = commands.add_parser(
        "check",
        parents=[variant_options(), dataset_option()],
        help="check shape, learning and claimed symmetry of variants (on a data set's task)",
    )
    p.set_defaults(func=cmd_check)
