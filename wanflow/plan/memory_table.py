"""The memory-plan tables of docs/models.md, computed: peaks per plan, and the plan each card gets.

A test regenerates them and compares them with the document, so the document is the code's.
"""

from __future__ import annotations

from wanflow.catalog import BACKENDS
from wanflow.memory import MEMORY_PLANS
from wanflow.plan.fit import Budget, MemoryChoice, candidate_plans, choose

CARDS_GIB = (8, 12, 16, 24, 32, 48, 80)
RAMS_GIB = (None, 32, 16)
SIZES = {  # (label, width, height, frames): the official sizes and clip lengths
    "t2v-a14b": (("480p", 832, 480, 81), ("720p", 1280, 720, 81)),
    "i2v-a14b": (("480p", 832, 480, 81), ("720p", 1280, 720, 81)),
    "ti2v-5b": (("720p", 1280, 704, 121),),
}
OFFICIAL_LABELS = {"480p": "480p", "720p": "720p"}


def peaks_table() -> list[str]:
    """Estimated GPU peak (GiB) and weights in CPU memory per plan, per backend and official size."""
    from wanflow.backends.peaks import official_peak_gib, plan_peak

    lines = []
    for backend_id, sizes in SIZES.items():
        spec = BACKENDS[backend_id]
        head = " | ".join(f"{label} {w}x{h}x{f}: GPU / RAM" for label, w, h, f in sizes)
        lines += [f"**{backend_id}**", "", f"| plan | {head} |", "|---" * (len(sizes) + 1) + "|"]
        for plan in candidate_plans(backend_id, Budget(card_gib=1.0), "resident"):
            cells = []
            for _label, w, h, f in sizes:
                peak = plan_peak(backend_id, plan, w, h, f)
                cells.append(f"{peak.generate / (1 << 30):.1f} / {peak.host / (1 << 30):.1f}")
            lines.append(f"| {plan.name} | {' | '.join(cells)} |")
        official = []
        for label, w, h, f in sizes:
            fitted = official_peak_gib(backend_id, w, h, f)
            stated = spec.official_peak_gb[label]
            official.append(f"{fitted:.1f} (README {stated:g}, {100 * (fitted - stated) / stated:+.1f}%)")
        lines.append(f"| official code, offload bf16 (fitted) | {' | '.join(official)} |")
        w, h, f = sizes[-1][1:]
        any_plan = MEMORY_PLANS["resident"]
        peak = plan_peak(backend_id, any_plan, w, h, f)
        tiled = plan_peak(backend_id, any_plan, w, h, f, vae_tiling=True)
        lines += [
            "",
            f"Every plan: the text encoder {peak.encode / (1 << 30):.1f} GiB in its own phase (0 on the CPU); "
            f"decoding {sizes[-1][0]} {peak.decode / (1 << 30):.1f} GiB, {tiled.decode / (1 << 30):.1f} GiB in tiles.",
            "",
        ]
    return lines


def _cell(found: MemoryChoice | tuple[MemoryChoice, float]) -> str:
    if not isinstance(found, MemoryChoice):
        return "-"
    extras = "".join(
        f" +{what}" for what, on in (("t5 cpu", found.text_encoder_cpu), ("tiles", found.vae_tiling)) if on
    )
    return f"{found.plan}{extras} ({found.peak_gib:.0f})"


def cards_table() -> list[str]:
    """The plan `wanflow plan --card N [--ram M]` picks for each backend and size (its peak GiB)."""
    lines = []
    for ram in RAMS_GIB:
        columns = [(b, label, w, h, f) for b in ("t2v-a14b", "i2v-a14b", "ti2v-5b") for label, w, h, f in SIZES[b]]
        lines.append(f"RAM {'not bounded' if ram is None else f'{ram} GiB'} (`--ram`):")
        lines.append("")
        lines.append("| card | " + " | ".join(f"{b} {label}" for b, label, *_ in columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for card in CARDS_GIB:
            budget = Budget(card_gib=float(card), ram_gib=None if ram is None else float(ram))
            cells = [_cell(choose(b, w, h, f, budget)) for b, _label, w, h, f in columns]
            lines.append(f"| {card} GiB | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def memory_tables() -> str:
    """Both tables as the markdown docs/models.md holds between its memory-table markers."""
    return "\n".join([*peaks_table(), *cards_table()]).rstrip() + "\n"
