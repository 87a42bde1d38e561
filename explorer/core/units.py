"""Bytes, written one way everywhere: binary units with their IEC names (KiB, MiB, GiB, TiB),
for memory and files alike. torchvision's file sizes (`_file_size`) are MiB too, and the
limits in explorer.core.limits are round numbers of these units."""

from __future__ import annotations

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

_UNITS = (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB))


def format_bytes(n_bytes: int | float) -> str:
    """512 -> '512 bytes', 20 * MiB -> '20 MiB', 252_712 -> '246.8 KiB', 1.5 * GiB -> '1.5 GiB'.

    A whole number of the unit is written without decimals (the limits read '1 GiB')."""
    n = float(n_bytes)
    for name, size in _UNITS:
        if abs(n) >= size:
            value = n / size
            return f"{value:,.0f} {name}" if value == int(value) else f"{value:,.1f} {name}"
    return f"{int(n)} bytes" if n == int(n) else f"{n:.1f} bytes"
