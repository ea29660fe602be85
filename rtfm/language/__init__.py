"""The Grok-style language backbone (model and checkpoints; tokenizer, text -> layout and training to come)."""

from .checkpoint import CheckpointError, from_pretrained, save_pretrained
from .model import PRESETS, Grok, GrokConfig

__all__ = ["Grok", "GrokConfig", "PRESETS", "from_pretrained", "save_pretrained", "CheckpointError"]
