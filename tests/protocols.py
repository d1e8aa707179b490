"""Whether a class really fits a ``typing.Protocol``: ``isinstance`` on a runtime-checkable protocol only
looks at member names, so a renamed parameter or a changed return type would pass it."""

from __future__ import annotations

import inspect
import re
from functools import cached_property
from typing import Any, _get_protocol_attrs  # type: ignore[attr-defined]  # 3.11 has no public spelling


def _spelling(annotation: object) -> str:
    """An annotation as text without module prefixes, whether the module postponed annotations or not."""
    if annotation is inspect.Parameter.empty:
        return "?"
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return re.sub(r"\b(?:\w+\.)+(?=\w)", "", text)


def _shape(function: Any) -> str:
    signature = inspect.signature(function)
    parameters = [f"{p.kind.name.lower()} {p.name}: {_spelling(p.annotation)}{' = ...' if p.default is not p.empty else ''}"
                  for p in signature.parameters.values()]
    return f"({', '.join(parameters)}) -> {_spelling(signature.return_annotation)}"


def _getter(member: Any) -> Any:
    return member.fget if isinstance(member, property) else member.func if isinstance(member, cached_property) \
        else None


def mismatches(cls: type, protocol: type) -> list[str]:
    """Each member of ``protocol`` that ``cls`` lacks or declares differently (names, kinds, annotations)."""
    found = []
    for name in sorted(_get_protocol_attrs(protocol)):
        wanted, actual = inspect.getattr_static(protocol, name), inspect.getattr_static(cls, name, None)
        if isinstance(wanted, property):
            wanted, actual = wanted.fget, _getter(actual)
        if not callable(actual):
            found.append(f"{name}: missing, or not a {type(wanted).__name__}")
        elif _shape(actual) != _shape(wanted):
            found.append(f"{name}{_shape(actual)} is not {name}{_shape(wanted)}")
    return found
