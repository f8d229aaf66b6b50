"""The toy world: generated scenes with ground truth, the trainer, and the shipped small model.

A client of editing_core (never the other way round). `MODEL_DIR` is the bundled model
folder, the default model of mtedit.
"""

from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent / "model"
