"""The plugin manager. Importers, backends, frontends and translators are plugins; the built-ins register through the
same hooks as third-party packages (entry point group "selfclone"), as in simonw/llm.

A plugin module defines hook implementations that receive `register`:

    from selfclone.plugins import hookimpl

    @hookimpl
    def register_backends(register):
        register(EchoBackend)          # a class with `name` and a pydantic `Options`

Items are looked up by name: `importers()["whatsapp"]`, `backends()["openai"]`.
"""
from __future__ import annotations

import importlib

import pluggy

from .errors import SelfcloneError

hookspec = pluggy.HookspecMarker("selfclone")
hookimpl = pluggy.HookimplMarker("selfclone")

BUILTIN_PLUGINS = [
    "selfclone.backends.transformers_backend",
    "selfclone.backends.openai_backend",
    "selfclone.backends.llamacpp_backend",
    "selfclone.collect.importers",
    "selfclone.serve.terminal",
    "selfclone.persona.translation",
    "selfclone.serve.telegram",
    "selfclone.serve.discord_bot",
    "selfclone.serve.web.server",
    "selfclone.evaluate.turing_web",
    "selfclone.refine.rank_web",
    "selfclone.serve.web.review_page",
    "selfclone.serve.web.train_page",
    "selfclone.serve.web.models_page",
    "selfclone.serve.api.server",
    "selfclone.export.first_use",
    "selfclone.serve.vllm",
]


class Specs:
    @hookspec
    def register_importers(self, register):
        """Register importer classes (name, Options, detect(path), read(path, options) -> messages)."""

    @hookspec
    def register_backends(self, register):
        """Register Backend classes (name, Options, __init__(model, options))."""

    @hookspec
    def register_frontends(self, register):
        """Register frontends (terminal, servers, bots): a class with `name` and `command`, a Typer command
        function that `selfclone serve NAME` runs. Frontends take a Backend and the workspace's persona and memory."""

    @hookspec
    def register_web_pages(self, register):
        """Register pages of the web app: a class with `name`, `title` and `router(site) -> fastapi.APIRouter`
        (`site` holds the backend, the generation options, the store opener and the model). Areas above serve
        (evaluate, refine) add their pages this way, so the web app never imports them."""

    @hookspec
    def register_translators(self, register):
        """Register translators for `--translate LANG`: a class with `name`, a pydantic `Options`,
        `__init__(backend, options)` and `translate(text, source, target) -> str`."""

    @hookspec(firstresult=True)
    def clone_gguf(self, ref, quantize):
        """A clone's GGUF for a backend that loads GGUF files: `(path, fidelity report)`, made on first use and cached
        (quantize None: the default). The export area implements it, so backends never import export."""

    @hookspec(firstresult=True)
    def served_gguf(self, ref, weights):
        """The embedded model's GGUF re-typed to `weights` for llama.cpp's fast kernels: `(path, fidelity report)`,
        made and checked once and cached, or None when the copy does not keep the model (load the shipped file)."""


pm = pluggy.PluginManager("selfclone")
pm.add_hookspecs(Specs)
_loaded = False


def load_plugins() -> pluggy.PluginManager:
    global _loaded
    if not _loaded:
        _loaded = True
        for name in BUILTIN_PLUGINS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("selfclone"):
                    continue          # an area not built yet
                raise
            if not pm.is_registered(module):
                pm.register(module, name)
        pm.load_setuptools_entrypoints("selfclone")
    return pm


def _collect(hook_name: str) -> dict[str, type]:
    items: dict[str, type] = {}

    def register(item):
        if not getattr(item, "name", None):
            raise SelfcloneError(f"plugin item {item!r} has no name")
        items[item.name] = item

    getattr(load_plugins().hook, hook_name)(register=register)
    return items


def importers() -> dict[str, type]:
    return _collect("register_importers")


def backends() -> dict[str, type]:
    return _collect("register_backends")


def frontends() -> dict[str, type]:
    return _collect("register_frontends")


def web_pages() -> dict[str, type]:
    return _collect("register_web_pages")


def translators() -> dict[str, type]:
    return _collect("register_translators")


def parse_options(options_cls, pairs: list[str] | dict | None, where: str):
    """`-o key=value` pairs (or a dict) -> the item's pydantic Options, with a clear error."""
    import pydantic

    data = dict(pairs) if isinstance(pairs, dict) else {}
    for pair in pairs or []:
        if isinstance(pairs, dict):
            break
        key, sep, value = pair.partition("=")
        if not sep:
            raise SelfcloneError(f"option {pair!r} for {where} is not key=value", "write -o key=value")
        data[key.strip()] = value
    try:
        return options_cls(**data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fields = ", ".join(options_cls.model_fields)
        raise SelfcloneError(f"bad options for {where}: {problems}", f"options are: {fields}") from exc
