"""The gradio web editor (imports worldgen)."""
