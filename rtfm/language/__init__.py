"""The Grok-style language backbone: model, checkpoints, tokenizer, training, constrained decoding, text encoder."""

from .checkpoint import CheckpointError, from_pretrained, save_pretrained
from .encoder import TextEncoder
from .model import PRESETS, Grok, GrokConfig

__all__ = ["Grok", "GrokConfig", "PRESETS", "from_pretrained", "save_pretrained", "CheckpointError", "TextEncoder"]
