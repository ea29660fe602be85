"""The Grok-style language backbone (model; tokenizer, text -> layout and training to come)."""

from .model import PRESETS, Grok, GrokConfig

__all__ = ["Grok", "GrokConfig", "PRESETS"]
