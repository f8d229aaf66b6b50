"""mtedit: chat-driven multi-turn consistent image editing on FLUX."""

__version__ = "0.1.0"
