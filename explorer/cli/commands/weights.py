"""`explorer weights ARCH`: which pretrained weights exist, whether they are cached, download."""

from __future__ import annotations

import argparse

from explorer.core.units import format_bytes

NAME = "weights"
HELP = "list an architecture's pretrained weights (size, accuracy, cached?) or download them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", nargs="?", help="architecture name; omit to list cached weights")
    parser.add_argument(
        "--download",
        nargs="?",
        const="DEFAULT",
        metavar="NAME",
        help="download these weights (DEFAULT if no name) into the torch hub cache",
    )


def run(args: argparse.Namespace) -> int:
    from explorer.weights import loading as weights

    if args.arch is None:
        found = weights.cached()
        print(f"weights on this machine (cache: {weights.checkpoint_dir()}):")
        for info in found:
            print(f"  {info.architecture:<24} {info.name:<28} {info.size_text:>10}  {info.path}")
        return 0
    arch, _ = weights.split_name(args.arch)
    if args.download is not None:
        info = weights.find(arch, args.download)
        if info.cached:
            print(f"{info.filename} is already at {info.path}")
            return 0
        print(f"downloading {info.url} (~{info.size_text}) to {info.path}")

        def progress(done: int, total: int) -> None:
            if total:
                print(f"\r  {format_bytes(done):>10} / {format_bytes(total)}", end="", flush=True)

        weights.download(info, progress)
        print(f"\nsaved and hash-checked: {info.path}")
        return 0
    infos = weights.available(arch)
    if not infos:
        print(f"{arch} has no pretrained weights (use --weights random or your own file).")
        return 0
    print(f"{'name':<28} {'default':<7} {'size':>10} {'top-1 %':>8} {'classes':>7}  cached  file")
    for i in infos:
        top1 = f"{i.top1:.2f}" if i.top1 is not None else "-"
        print(
            f"{i.name:<28} {'yes' if i.is_default else '':<7} {i.size_mb:>8.1f} {top1:>8} "
            f"{len(i.categories):>7}  {'yes' if i.cached else 'no':<6}  {i.path}"
        )
    return 0
