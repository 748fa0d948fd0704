"""A Jinja sandbox for templates from other people: files from the grammar folder only, and bounded work.

Jinja's own sandbox keeps templates from Python internals, but not from reading any file a
symlink points at, nor from `range(100000)` loops inside each other, `'x' * 10**10`, or a
macro that doubles a string forty times. Here:

- templates (and what they include, import or extend) are read only as regular files inside
  the template folders, at most MAX_TEMPLATE_BYTES each;
- every value a template makes (a string, a list, a number's digits) stays under MAX_VALUE:
  the operators, `~`, calls, filters and output buffers check before or right after they build;
  filters and string methods that multiply their input by an argument are not offered;
- `range` is at most MAX_RANGE long, and every loop step, call and output ticks a clock that
  stops a rendering after TIME_LIMIT seconds.

Whatever goes wrong is a `TemplateLimit` (a Jinja `SecurityError`) or the template's own error;
`wanflow.grammar.compile` reports either at the template's file and line.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import make_attrgetter
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

from wanflow.confine import OutsideError, regular_file_inside

MAX_TEMPLATE_BYTES = 64 * 1024
MAX_VALUE = 20_000  # characters of a string or items of a list, nested ones counted; a prompt is ~500
MAX_INT_BITS = 4096
MAX_RANGE = 1000
TIME_LIMIT = 2.0  # seconds per rendering; the packaged templates take about a millisecond

# Filters whose output grows with an argument (widths, fill values, indents): not offered.
_GROWING_FILTERS = ("batch", "center", "format", "indent", "slice", "tojson", "urlize", "wordwrap")
# String methods of the same kind; templates have the `~` operator and the join/replace filters.
_GROWING_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "translate", "format", "format_map", "join", "replace"}
)
_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_TICKING = "_wanflow_ticking"
_CONCAT = "_wanflow_concat"


class TemplateLimit(SecurityError):
    """A template asked for more than a prompt template may: a file outside, too much work, too large a value."""


def size_of(value: Any, budget: int = MAX_VALUE) -> int:
    """Characters and items in `value`, nested ones counted, until past `budget` (so counting is bounded too)."""
    total = 0
    pending = [value]
    while pending and total <= budget:
        item = pending.pop()
        if isinstance(item, str | bytes | range):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 64
        else:
            total += 1
    return total


class _Clock:
    """The deadline of the rendering in progress (None outside one)."""

    def __init__(self) -> None:
        self.deadline: float | None = None

    def tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template ran for more than {TIME_LIMIT:g} s (a loop too large?)")


class _Buffer(list):
    """The output buffer of a macro, a `{% set %}` block or a call block: bounded as it fills."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock
        self.size = 0

    def append(self, item: Any) -> None:
        self.clock.tick()
        self.size += len(item)
        _check_size(self.size, "a block's output")
        super().append(item)

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with bounded output buffers."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")


class _Guards(NodeTransformer):
    """Every loop's iterable ticks the clock; every `~` builds through a checked join."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_TICKING, "load"), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_CONCAT, "load"), list(node.nodes), [], None, None, lineno=node.lineno)


class TemplateFolders(jinja2.BaseLoader):
    """Templates by name from the first folder that has them, as regular files inside it."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # refuses `..`
        for folder in self.folders:
            try:
                path = regular_file_inside(folder, Path(*pieces))
            except OutsideError as error:
                raise TemplateLimit(f"template {template!r}: {error}") from None
            if path is None:
                continue
            with open(path, "rb") as handle:
                data = handle.read(MAX_TEMPLATE_BYTES + 1)
            if len(data) > MAX_TEMPLATE_BYTES:
                raise TemplateLimit(f"template {template!r} is larger than {MAX_TEMPLATE_BYTES // 1024} KB")
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError:
                raise TemplateLimit(f"template {template!r} is not UTF-8 text") from None
            modified = path.stat().st_mtime_ns
            return source, str(path), lambda: path.is_file() and path.stat().st_mtime_ns == modified
        raise jinja2.TemplateNotFound(template)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox every prompt template renders in (see the module's docstring)."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, folders: list[Path]) -> None:
        self.clock = _Clock()
        super().__init__(
            loader=TemplateFolders(folders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            finalize=self._finalize,
        )
        self.globals.pop("lipsum", None)
        self.globals.update({"range": self._range, _TICKING: self._ticking, _CONCAT: self._concat})
        self.filters = {
            name: _guarded(function, self.clock)
            for name, function in self.filters.items()
            if name not in _GROWING_FILTERS
        }
        self.filters["replace"] = _guarded(_replace, self.clock)
        self.filters["join"] = _guarded(_join, self.clock)

    def render(self, template: jinja2.Template, context: dict[str, Any]) -> str:
        """The template's output, within the time and size bounds."""
        self.clock.deadline = time.monotonic() + TIME_LIMIT
        try:
            parts, size = [], 0
            for part in template.generate(context):
                size += len(part)
                _check_size(size, "the template's output")
                parts.append(part)
            return "".join(parts)
        finally:
            self.clock.deadline = None

    def output_buffer(self) -> _Buffer:
        return _Buffer(self.clock)

    # ---- the hooks Jinja's sandbox calls ---------------------------------------------------

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False):
        source = _Guards().visit(source)
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        __self.clock.tick()
        for value in (*args, *kwargs.values()):
            _check_value(value, "an argument")
        result = super().call(__context, __obj, *args, **kwargs)
        _check_value(result, "a call's result")
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.clock.tick()
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        _check_value(result, f"the result of {operator!r}")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.clock.tick()
        if isinstance(obj, str | bytes) and attribute in _GROWING_METHODS:
            raise TemplateLimit(f"the string method {attribute!r} is not available in prompt templates")
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.clock.tick()
        if isinstance(obj, str | bytes) and argument in _GROWING_METHODS:
            raise TemplateLimit(f"the string method {argument!r} is not available in prompt templates")
        return super().getitem(obj, argument)

    def _finalize(self, value: Any) -> Any:
        self.clock.tick()
        _check_value(value, "an output")
        return value

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        if len(numbers) > MAX_RANGE:
            raise TemplateLimit(f"range of {len(numbers)} numbers; a template's range holds at most {MAX_RANGE}")
        return numbers

    def _ticking(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.clock.tick()
            yield item

    def _concat(self, *parts: Any) -> str:
        texts = [str(part) for part in parts]
        _check_size(sum(map(len, texts)), "the result of '~'")
        return "".join(texts)


def _check_size(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise TemplateLimit(f"{what} grows past {MAX_VALUE} characters or items; a prompt template makes short text")


def _check_value(value: Any, what: str) -> None:
    _check_size(size_of(value), what)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse, before it is computed, a result past the bounds."""
    sequence = (str, bytes, list, tuple)
    if operator == "+" and isinstance(left, sequence) and isinstance(right, sequence):
        _check_size(size_of(left) + size_of(right), "the result of '+'")
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, sequence):
            left, right = right, left
        if isinstance(left, sequence) and isinstance(right, int):
            _check_size(size_of(left) * max(right, 0), "the result of '*'")
        elif isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() + right.bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
        _check_bits(left.bit_length() * min(right, MAX_INT_BITS + 1))
    elif operator == "%" and isinstance(left, str):
        for match in _PERCENT_WIDTH.finditer(left):
            for number in match.groups():
                if number == "*" or (number is not None and int(number) > MAX_VALUE):
                    raise TemplateLimit(f"the format {match.group()!r} is wider than a prompt template may write")


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimit(f"a number of about {bits} bits; a prompt template counts in small numbers")


def _guarded(function: Callable[..., Any], clock: _Clock) -> Callable[..., Any]:
    """A filter that ticks the clock and whose result is checked (its pass-context marks are kept)."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        clock.tick()
        result = function(*args, **kwargs)
        _check_value(result, "a filter's result")
        return result

    return guarded


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    """Jinja's `replace`, refusing a result past MAX_VALUE before it is built."""
    text, old, new = str(value), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if count is not None:
        found = min(found, max(count, 0))
    _check_size(len(text) + found * max(len(new) - len(old), 0), "the result of 'replace'")
    return text.replace(old, new, -1 if count is None else count)


@jinja2.pass_environment
def _join(
    environment: jinja2.Environment, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    """Jinja's `join` (of text: autoescape is off), refusing a result past MAX_VALUE before it is built."""
    if attribute is not None:
        value = map(make_attrgetter(environment, attribute), value)
    texts = [str(item) for item in value]
    _check_size(sum(map(len, texts)) + len(str(d)) * max(len(texts) - 1, 0), "the result of 'join'")
    return str(d).join(texts)
