"""Learned models: language backbone, multimodal encoder, frame model, spatial memory (imports renderer)."""
