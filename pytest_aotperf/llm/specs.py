"""Model specs shipped as configs only: a name or a folder holding a Hugging Face config.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SHIPPED_MODELS = ("tiny-llama", "llama-3.2-1b", "llama-3-8b")


class ModelSpecError(ValueError):
    """The model named by a test is neither a shipped spec nor a folder with a usable config.json."""


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture to build with dummy weights: where its config is and its vocabulary size."""

    name: str
    path: str
    vocab_size: int
    max_position_embeddings: int


def resolve_model(model: str) -> ModelSpec:
    """The spec for a shipped model name (see SHIPPED_MODELS) or a folder holding config.json."""
    folder = MODELS_DIR / model if model in SHIPPED_MODELS else Path(model).expanduser()
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelSpecError(
            f"model {model!r}: no config.json in {folder}; give one of "
            f"{', '.join(SHIPPED_MODELS)} or a folder holding a Hugging Face config.json"
        )
    config = json.loads(config_file.read_text())
    missing = [key for key in ("architectures", "vocab_size") if key not in config]
    if missing:
        raise ModelSpecError(
            f"model {model!r}: {config_file} lacks {', '.join(missing)}, which vLLM needs "
            "to build the model with dummy weights"
        )
    return ModelSpec(
        name=model,
        path=str(folder.resolve()),
        vocab_size=int(config["vocab_size"]),
        max_position_embeddings=int(config.get("max_position_embeddings", 0)),
    )
