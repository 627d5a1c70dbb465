"""Settings, declared once: defaults, then policymine.toml, then POLICYMINE_* env, then flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from .errors import ConfigError

CONFIG_FILE = "policymine.toml"
ENV_PREFIX = "POLICYMINE_"
SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")
EXECUTORS = ("local", "ray")
# The model weights ship inside registry packages: the Hugging Face hub must never be asked, and
# the tokenizers' own threads must not meet the worker processes forked after them.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline() -> None:
    """Put OFFLINE_ENV into this process's environment, where the user has not set them.

    Call it before transformers or huggingface_hub is imported (they read it at import): the CLI
    does so first thing, and `embed.get_embedder` for library use without the CLI.
    """
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


@dataclass(frozen=True)
class Settings:
    """Everything the library needs to know; stages receive this, never the environment."""

    index_dir: Path = Path("indexes")
    model: str = "minilm"  # embedding model registry name (see embed.MODELS)
    taxonomy: Path | None = None  # None: the taxonomy shipped in the package
    batch_size: int = 64
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    min_passage_words: int = 40
    max_passage_words: int = 250
    topic_threshold: float = 0.15  # tuned with TERM_WEIGHT on the dev split (eval/tune_tags.py)
    per_doc: int = 3  # at most this many search hits from one document
    fusion: str = (
        "rrf"  # hybrid search: "rrf" (reciprocal rank fusion) or "weighted" (see eval search)
    )
    ocr: bool = False  # read pages without a usable text layer with Tesseract
    file_timeout: float = (
        300.0  # seconds one file's extraction may take before its worker is killed
    )
    executor: str = "local"  # where ingest and tag run the heavy stages: "local" processes or "ray"
    ray_address: str | None = (
        None  # a running Ray cluster ("ray://head:10001", "auto"); None: start one here
    )
    serve_timeout: float = 10.0  # seconds `serve` waits on a silent client before closing
    serve_connections: int = 64  # connections `serve` answers at once; more wait their turn

    def __post_init__(self) -> None:
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        if self.taxonomy is not None:
            object.__setattr__(self, "taxonomy", Path(self.taxonomy))
        for name in (
            "batch_size",
            "workers",
            "min_passage_words",
            "max_passage_words",
            "per_doc",
            "serve_connections",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_passage_words < self.min_passage_words:
            raise ConfigError("max_passage_words must not be below min_passage_words")
        if self.fusion not in ("rrf", "weighted"):
            raise ConfigError(f"fusion must be rrf or weighted, got {self.fusion!r}")
        for name in ("file_timeout", "serve_timeout"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(
                    f"{name} must be a positive number of seconds, got {getattr(self, name)!r}"
                )
        if self.executor not in EXECUTORS:
            raise ConfigError(
                f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        if self.ray_address and self.executor != "ray":
            raise ConfigError("ray_address is set but the executor is local: add --executor ray")
        if not 0.0 <= self.topic_threshold <= 1.0:
            raise ConfigError(f"topic_threshold must be within 0..1, got {self.topic_threshold}")

    def with_(self, **overrides: Any) -> Settings:
        """A copy with the non-None overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    if name not in kinds:
        raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(kinds))}")
    kind = str(kinds[name])
    if kind.startswith("bool") and isinstance(value, str):
        if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"setting {name!r} expects true or false, got {value!r}")
        return value.lower() in ("1", "true", "yes", "on")
    try:
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except ValueError:
        raise ConfigError(f"setting {name!r} expects a number, got {value!r}") from None
    return value


def load(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from the config file, the environment and explicit overrides, in that order."""
    values: dict[str, Any] = {}
    path = Path(config_file) if config_file else Path(CONFIG_FILE)
    if path.is_file():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    elif config_file:
        raise ConfigError(f"{path}: config file not found")
    env = os.environ if env is None else env
    known = {f.name for f in fields(Settings)}
    for key, value in env.items():
        name = key[len(ENV_PREFIX) :].lower()
        if (
            key.startswith(ENV_PREFIX) and value != "" and name in known
        ):  # others may belong to scripts
            values[name] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**{k: _coerce(k, v) for k, v in values.items()})
