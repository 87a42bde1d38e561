"""timm's re-parameterisable networks: the deploy (fused) form and the trained form against
timm's published parameters and GMACs (fvcore's convention), one row each, then the counts.

    python benchmarks/timm_deploy.py
"""

from __future__ import annotations

import explorer
from explorer.catalog.timm_models import DEPLOY, fvcore_macs


def main() -> None:
    names = [n for n in explorer.names() if n.endswith(DEPLOY)]
    counts = {"published": 0, "deploy params": 0, "deploy MACs": 0, "trained params": 0,
              "trained MACs": 0}  # fmt: skip
    for name in names:
        pub = explorer.get(name).published
        deploy, trained = explorer.trace(name), explorer.trace(name.removesuffix(DEPLOY))
        if pub is None:
            print(f"{name:36} no published figures")
            continue
        counts["published"] += 1
        marks = []
        for form, t in (("deploy", deploy), ("trained", trained)):
            params_ok = abs(t.total_params - pub.params) <= pub.params_tolerance
            macs_ok = abs(fvcore_macs(t) - pub.macs) <= pub.macs_tolerance
            counts[f"{form} params"] += params_ok
            counts[f"{form} MACs"] += macs_ok
            marks.append(f"{form} {t.total_params / 1e6:8.3f}M {'✓' if params_ok else '✗'} "
                         f"{fvcore_macs(t) / 1e9:7.3f}G {'✓' if macs_ok else '✗'}")  # fmt: skip
        print(f"{name:36} timm {pub.params / 1e6:7.2f}M {pub.macs / 1e9:6.2f}G | "
              + " | ".join(marks))
    print(f"\n{len(names)} deploy forms; " + ", ".join(f"{k}: {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
