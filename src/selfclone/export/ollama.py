"""An Ollama folder: the GGUF and a Modelfile whose TEMPLATE renders exactly the tokens of the HF chat template.

The TEMPLATE is emitted for ChatML (`<|im_start|>role\\ncontent<|im_end|>\\n`), the template of the embedded model
and its clones, including the default system turn the HF template adds when a conversation has none.
`render` interprets the small part of Go's text/template the emitted TEMPLATE uses, so tests can compare it
with `tokenizer.apply_chat_template` without Ollama installed.

    folder = write_ollama(gguf, Path("maggie-ollama"), tokenizer, system="You are Maggie.", generation=options)
    # then: ollama create maggie -f maggie-ollama/Modelfile
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..config import GenerationOptions
from ..fileio import write_text
from .gguf import ExportError

CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")
DEFAULT_SYSTEM = re.compile(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", re.S)


def chatml_template(default_system: str | None) -> str:
    """Go template for Ollama's /api/chat and /api/generate, matching the HF ChatML template."""
    head = ""
    if default_system is not None:
        head = ('{{- if and (eq $i 0) (ne .Role "system") }}<|im_start|>system\n'
                f'{default_system}<|im_end|>\n{{{{ end }}}}')
    return ("{{- range $i, $_ := .Messages }}" + head +
            "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n")


def template_for(tokenizer) -> str:
    source = tokenizer.chat_template or ""
    if not all(m in source for m in CHATML_MARKERS):
        raise ExportError("the model's chat template is not ChatML, the only one the Ollama export writes a TEMPLATE for",
                          "use --format gguf (the GGUF keeps the HF template in its metadata)")
    probe = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    found = DEFAULT_SYSTEM.search(probe)
    return chatml_template(found.group(1) if found else None)


# --- a minimal Go text/template interpreter for the templates above ------------------------------------
TOKEN = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.S)


def _parse(template: str) -> list:
    """-> a tree of ("text", s) | ("field", name) | ("range", body) | ("if", cond, body)."""
    parts, pos, pending_trim = [], 0, False
    for m in TOKEN.finditer(template):
        text = template[pos:m.start()]
        if pending_trim:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        parts.append(("text", text))
        parts.append(("action", m.group(2)))
        pending_trim, pos = bool(m.group(3)), m.end()
    tail = template[pos:]
    parts.append(("text", tail.lstrip() if pending_trim else tail))
    stack: list[list] = [[]]
    for kind, value in parts:
        if kind == "text":
            stack[-1].append(("text", value))
        elif value.startswith("range "):
            stack.append(["range"])
        elif value.startswith("if "):
            stack.append(["if", value[3:]])
        elif value == "end":
            node = stack.pop()
            stack[-1].append(("range", node[1:]) if node[0] == "range" else ("if", node[1], node[2:]))
        elif value.startswith("."):
            stack[-1].append(("field", value[1:]))
        else:
            raise ExportError(f"internal: the template renderer does not know the action {{{{ {value} }}}}")
    return stack[0]


def _value(arg: str, scope: dict):
    if arg.startswith('"'):
        return json.loads(arg)
    if arg.startswith("$"):
        return scope[arg]
    if arg.startswith("."):
        return scope["."][arg[1:]]
    return int(arg)


def _test(cond: str, scope: dict) -> bool:
    cond = cond.strip()
    if cond.startswith("and "):
        return all(_test(c, scope) for c in re.findall(r"\(([^()]*)\)", cond))
    op, a, b = re.match(r'(eq|ne)\s+(\S+)\s+(".*?"|\S+)', cond).groups()
    same = _value(a, scope) == _value(b, scope)
    return same if op == "eq" else not same


def _run(nodes: list, scope: dict, out: list[str]) -> None:
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "field":
            out.append(str(scope["."][node[1]]))
        elif node[0] == "if":
            if _test(node[1], scope):
                _run(node[2], scope, out)
        else:
            for i, message in enumerate(scope["."]["Messages"]):
                _run(node[1], {**scope, "$i": i, ".": message}, out)


def render(template: str, messages: list[dict], system: str | None = None) -> str:
    """What Ollama sends the model: its messages get the Modelfile SYSTEM first when they have no system turn."""
    if system is not None and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": system}, *messages]
    ollama_messages = [{"Role": m["role"], "Content": m["content"]} for m in messages]
    out: list[str] = []
    _run(_parse(template), {".": {"Messages": ollama_messages}}, out)
    return "".join(out)


# --- the Modelfile ------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def modelfile(gguf_name: str, template: str, system: str | None, stops: list[str], options: GenerationOptions) -> str:
    lines = [f"FROM ./{gguf_name}", f"TEMPLATE {_quote(template)}"]
    if system:
        lines.append(f"SYSTEM {_quote(system)}")
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    lines += [f"PARAMETER temperature {options.temperature}", f"PARAMETER top_p {options.top_p}",
              f"PARAMETER num_predict {options.max_tokens}",
              f"PARAMETER presence_penalty {options.presence_penalty}",
              f"PARAMETER frequency_penalty {options.frequency_penalty}"]
    lines += [f'PARAMETER stop "{s}"' for s in options.stop]
    if options.seed is not None:
        lines.append(f"PARAMETER seed {options.seed}")
    return "\n".join(lines) + "\n"


def write_ollama(gguf: Path, folder: Path, tokenizer, *, system: str | None, generation: GenerationOptions) -> Path:
    """`folder/` with the GGUF and a Modelfile; returns the Modelfile's path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / gguf.name
    if gguf.resolve() != target.resolve():
        shutil.move(str(gguf), target)
    path = folder / "Modelfile"
    write_text(path, modelfile(target.name, template_for(tokenizer), system, ["<|im_end|>"], generation))
    return path
