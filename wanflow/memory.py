"""Memory plans: the ways wanflow holds a model on a card, each one of diffusers' own features.

A profile says what to render; a memory plan says how the transformer weights sit on this
card. Each plan is two choices:

- `weights`: how the expert weights are stored. `bf16` (as loaded), `fp8` (diffusers'
  `enable_layerwise_casting`: float8_e4m3fn storage, bf16 compute, layer by layer), or a GGUF
  quant type (`q8_0`, `q4_k_s`: pre-quantized experts read with `GGUFQuantizationConfig` and
  `WanTransformer3DModel.from_single_file`, dequantized layer by layer).
- `placement`: where they sit while generating. `resident` (everything on the GPU), `offload`
  (`enable_model_cpu_offload`: one expert on the GPU at a time), `stream`
  (`enable_group_offload`, block level, with CUDA streams: two blocks on the GPU at a time).

Plans whose `weights` differ change the numbers, so `weights` is part of the cache keys;
`placement` only moves weights between memory and time and is not. `speed` is the expected
GPU time relative to `resident`: an assumption, stated here once, that
`benchmarks/bench_backends.py --real-size` measures on a GPU. Torch-free: the plan, the CLI
and the exports read it; `wanflow.backends.memory_plans` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wanflow.errors import UserError

Placement = Literal["resident", "offload", "stream"]
GGUF_QUANTS = ("q8_0", "q4_k_s")  # the quant types wanflow pulls and plans for (GGUF names, lower case)
WEIGHTS = ("bf16", "fp8", *GGUF_QUANTS)
BLOCKS_PER_GROUP = 1  # stream: one transformer block per transfer, the next one prefetched


@dataclass(frozen=True)
class MemoryPlan:
    name: str
    weights: str  # bf16 | fp8 | q8_0 | q4_k_s
    placement: Placement
    speed: float  # expected GPU seconds relative to `resident` (an assumption the benchmark measures)
    about: str

    @property
    def gguf(self) -> bool:
        return self.weights in GGUF_QUANTS

    def numerics(self) -> dict[str, object]:
        """What changes a latent's numbers: nothing for bf16 (today's keys), else the storage."""
        return {} if self.weights == "bf16" else {"storage": self.weights}


MEMORY_PLANS: dict[str, MemoryPlan] = {
    plan.name: plan
    for plan in (
        MemoryPlan("resident", "bf16", "resident", 1.00, "both experts on the GPU in bf16"),
        MemoryPlan("offload", "bf16", "offload", 1.02, "model CPU offload: one bf16 expert on the GPU at a time"),
        MemoryPlan("fp8", "fp8", "resident", 1.05, "both experts on the GPU, fp8 storage, bf16 compute"),
        MemoryPlan("fp8-offload", "fp8", "offload", 1.07, "fp8 storage, one expert on the GPU at a time"),
        MemoryPlan("stream", "bf16", "stream", 1.10, "bf16 blocks streamed to the GPU (group offload, CUDA streams)"),
        MemoryPlan("fp8-stream", "fp8", "stream", 1.14, "fp8 blocks streamed to the GPU"),
        MemoryPlan("gguf-q8", "q8_0", "offload", 1.20, "GGUF Q8_0 experts, one on the GPU at a time"),
        MemoryPlan("gguf-q4", "q4_k_s", "offload", 1.30, "GGUF Q4_K_S experts, one on the GPU at a time"),
    )
}
# The plan to try when a card runs out of memory under one: the next that holds less on the GPU
# by the estimated peaks (docs/models.md; a test holds the chain to them).
SMALLER = {
    "resident": "offload",
    "fp8": "fp8-offload",
    "offload": "gguf-q8",
    "gguf-q8": "fp8-offload",
    "fp8-offload": "gguf-q4",
    "gguf-q4": "stream",
    "stream": "fp8-stream",
    "fp8-stream": None,
}


def out_of_memory_advice(plan_name: str) -> str:
    """What to tell someone whose card ran out of memory under `plan_name`."""
    smaller = SMALLER.get(plan_name)
    if smaller is None:
        return f"the GPU ran out of memory under memory plan {plan_name}, the smallest there is: render a smaller size or fewer frames"
    return (
        f"the GPU ran out of memory under memory plan {plan_name}: run again with `--memory {smaller}` "
        "(it holds less on the card), or give `--card` the card's real free memory so plan picks one that fits"
    )


DEFAULT_PLAN = "resident"  # what `wanflow run` did before memory plans: the numbers of today's cache keys


def memory_plan(name: str) -> MemoryPlan:
    """The plan of that name, or one message naming the known ones."""
    try:
        return MEMORY_PLANS[name]
    except KeyError:
        raise UserError(f"--memory must be one of {', '.join(MEMORY_PLANS)}, not {name!r}") from None


# --card: the smallest card wanflow plans for, and the largest it believes in (a typo guard).
MIN_CARD_GIB = 4.0
MAX_CARD_GIB = 1024.0


def check_card(card_gib: float) -> float:
    """A card size in GiB that makes sense, or one message."""
    if not MIN_CARD_GIB <= card_gib <= MAX_CARD_GIB:
        raise UserError(
            f"--card is the GPU's memory in GiB, between {MIN_CARD_GIB:g} and {MAX_CARD_GIB:g}, not {card_gib:g}"
        )
    return card_gib
