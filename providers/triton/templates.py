"""Chat templates: a conversation rendered as the one prompt string a generate endpoint takes.

Triton's generate extension takes text, not messages, so the chat template the model was trained
with is applied here, client-side. Built in (each as its model card's Jinja template renders it
with ``add_generation_prompt``; the tests pin the strings):

* ``chatml``: ``<|im_start|>{role}\\n{content}<|im_end|>\\n`` ... ``<|im_start|>assistant\\n`` (Qwen,
  Yi, many fine-tunes);
* ``llama-3``: ``<|begin_of_text|>`` then ``<|start_header_id|>{role}<|end_header_id|>\\n\\n{content}<|eot_id|>``
  ... ``<|start_header_id|>assistant<|end_header_id|>\\n\\n`` (Llama 3, 3.1, 3.2, 3.3);
* ``llama-2``: ``<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {assistant} </s><s>[INST] ...``;
* ``mistral``: ``<s>[INST] {user} [/INST]{assistant}</s>[INST] ...`` (Mistral/Mixtral instruct v0.1;
  a system prompt is put before the first user message, as Mistral's own templates do);
* ``plain``: ``System: ...\\n\\nUser: ...\\n\\nAssistant:`` for base models.

Without a template, a request must be one user message, sent verbatim as the prompt (for a
deployment whose preprocessing applies the template, or a completion-style prompt); anything
else is refused naming the option.

Any other model: a table of strings, ``{begin, system, user, assistant, generation}`` (each role
entry holds ``{content}``; ``begin`` opens the prompt, ``generation`` ends it, both optional):
``{ user = "### User:\\n{content}\\n", assistant = "### Assistant:\\n{content}\\n", generation =
"### Assistant:\\n" }``. A role the table leaves out is refused naming the message.

Special tokens (``<s>``, ``<|begin_of_text|>``) are written as text: if the deployment's
tokenizer adds its own BOS, use a table without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from llmplex.errors import ConfigError, InvalidRequestError

__all__ = ["Template", "TEMPLATES", "template_from_config"]

#: (role, text) pairs, in order.
Turns = List[Tuple[str, str]]


@dataclass(frozen=True)
class Template:
    """A per-role template; ``style`` names the built-in folding rules (``inst``: Llama 2 /
    Mistral ``[INST]`` pairs) or ``None`` for one line per message."""

    name: str
    begin: str = ""
    system: Optional[str] = None
    user: Optional[str] = None
    assistant: Optional[str] = None
    generation: str = ""
    style: Optional[str] = None

    def render(self, turns: Turns, *, provider: str) -> str:
        if self.style == "raw":
            if len(turns) != 1 or turns[0][0] != "user":
                field = "messages" if len(turns) != 1 else "messages[0].role"
                raise InvalidRequestError(
                    f"{field}: without a chat template only one user message is sent, verbatim, as the prompt; set "
                    f"[providers.{provider}] template to the model's (one of {', '.join(sorted(TEMPLATES))}, or a "
                    "table; docs/providers/triton.md)",
                    provider=provider,
                    field=field,
                )
            return turns[0][1]
        if self.style == "llama-2":
            return _inst(turns, system_block=True)
        if self.style == "mistral":
            return _inst(turns, system_block=False)
        parts = [self.begin]
        for index, (role, text) in enumerate(turns):
            pattern = {"system": self.system, "user": self.user, "assistant": self.assistant}.get(role)
            if pattern is None:
                field = f"messages[{index}].role"
                raise InvalidRequestError(
                    f"{field}: the {self.name!r} chat template has no {role!r} entry; add one to "
                    f"[providers.{provider}] template, or leave such messages out",
                    provider=provider,
                    field=field,
                )
            parts.append(pattern.replace("{content}", text))
        parts.append(self.generation)
        return "".join(parts)


def _inst(turns: Turns, *, system_block: bool) -> str:
    """``[INST]`` pairs; the system prompt goes into the first user message."""
    system = "\n\n".join(text for role, text in turns if role == "system")
    rest = [(role, text) for role, text in turns if role != "system"]
    out: List[str] = []
    first = True
    for role, text in rest:
        if role == "user":
            if first and system:
                text = f"<<SYS>>\n{system}\n<</SYS>>\n\n{text}" if system_block else f"{system}\n\n{text}"
            if system_block:
                out.append(f"<s>[INST] {text.strip()} [/INST]")
            else:
                out.append(("<s>" if first else "") + f"[INST] {text} [/INST]")
            first = False
        else:
            out.append(f" {text.strip()} </s>" if system_block else f"{text}</s>")
    if first and system:  # only a system prompt: it is the instruction
        out.append(f"<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n [/INST]" if system_block else f"<s>[INST] {system} [/INST]")
    return "".join(out)


TEMPLATES: Dict[str, Template] = {
    "chatml": Template(
        "chatml",
        system="<|im_start|>system\n{content}<|im_end|>\n",
        user="<|im_start|>user\n{content}<|im_end|>\n",
        assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
        generation="<|im_start|>assistant\n",
    ),
    "llama-3": Template(
        "llama-3",
        begin="<|begin_of_text|>",
        system="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
        user="<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
        assistant="<|start_header_id|>assistant<|end_header_id|>\n\n{content}<|eot_id|>",
        generation="<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    "llama-2": Template("llama-2", style="llama-2"),
    "mistral": Template("mistral", style="mistral"),
    "plain": Template(
        "plain",
        system="System: {content}\n\n",
        user="User: {content}\n\n",
        assistant="Assistant: {content}\n\n",
        generation="Assistant:",
    ),
}

#: No template set: one user message is the prompt, as it is (base models, or a deployment whose
#: preprocessing applies the template itself); a conversation is refused.
RAW = Template("raw", style="raw")

_KEYS = ("begin", "system", "user", "assistant", "generation")


def template_from_config(value: Union[str, Mapping[str, Any], None], *, provider: str) -> Template:
    """The ``template`` option: a built-in name or a table of strings; ConfigError otherwise."""
    where = f"providers.{provider}.template"
    names = ", ".join(sorted(TEMPLATES))
    if value is None:
        return RAW
    if isinstance(value, str):
        found = RAW if value.lower() == "raw" else TEMPLATES.get(value.lower())
        if found is None:
            raise ConfigError(f"{where}: unknown template {value!r}; use one of {names}, raw or a table",
                              provider=provider, field=where)
        return found
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a template name or a table of strings", provider=provider, field=where)
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; a template table has {list(_KEYS)}",
                          provider=provider, field=where)
    for key, text in value.items():
        if not isinstance(text, str):
            raise ConfigError(f"{where}.{key}: must be a string", provider=provider, field=f"{where}.{key}")
        if key in ("system", "user", "assistant") and "{content}" not in text:
            raise ConfigError(f"{where}.{key}: must contain {{content}} where the message text goes",
                              provider=provider, field=f"{where}.{key}")
    if "user" not in value:
        raise ConfigError(f"{where}: a template table needs at least a user entry", provider=provider, field=where)
    return Template(
        "custom",
        begin=str(value.get("begin", "")),
        system=value.get("system"),
        user=value.get("user"),
        assistant=value.get("assistant"),
        generation=str(value.get("generation", "")),
    )
