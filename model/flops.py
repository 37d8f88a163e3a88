"""Model FLOPs of encoder training, for tokens/s -> MFU (model FLOPs utilisation) on GPUs.

Counts what the model needs, not what GradCache spends: 6 * params per token (forward + backward)
plus attention scores, the convention of PaLM's MFU (arXiv 2204.02311, appendix B). GradCache's
extra no-grad forward is overhead and lowers MFU, as it should.
"""

from __future__ import annotations

from typing import Optional

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, from the vendors' data sheets.
PEAK_BF16_FLOPS = {
    "H200": 989e12,
    "H100 SXM": 989e12,
    "H100 80GB HBM3": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "A10": 125e12,
}


def non_embedding_params(config) -> int:
    """Transformer-layer weights of a BERT config (embedding lookups cost no matmul FLOPs)."""
    h, i, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 4 * h * h + 4 * h + 2 * h * i + i + h + 4 * h
    return n * per_layer


def train_flops_per_token(config, seq_len: float) -> float:
    """6N for weights plus 6 * layers * 2 * seq * hidden for the score and value matmuls (fwd+bwd)."""
    return 6 * non_embedding_params(config) + 12 * config.num_hidden_layers * seq_len * config.hidden_size


def peak_flops(device_name: str) -> Optional[float]:
    for key, value in PEAK_BF16_FLOPS.items():
        if key.lower() in device_name.lower():
            return value
    return None
