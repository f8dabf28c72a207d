"""Sandboxed rendering of notification templates: the bounded sandbox, render and the template checks."""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import tzinfo
from functools import lru_cache
from string import Formatter
from typing import Any

from jinja2 import DictLoader, StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from caremesh.notifications.domain import (
    BODY_MAX,
    INT_BITS,
    LOOP_MAX,
    RANGE_MAX,
    RENDER_SECONDS,
    REPEAT_MAX,
    SECRET_PLACEHOLDER,
    SUBJECT_MAX,
    VALUE_MAX,
    WIDTH_MAX,
    Channel,
    EventKind,
    check_variants,
)


class TemplateProblem(ValueError):
    """A template that does not compile or render; `field` is `subject` or `body`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RenderBudget:
    """What one render may spend: loop iterations and time. Checked as the template runs, so a render
    that overruns stops itself (also in a worker thread whose caller stopped waiting)."""

    def __init__(self, time_limit: float) -> None:
        self.deadline = time.monotonic() + time_limit
        self.time_limit = time_limit
        self.iterations = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _TooSlow(f"takes longer than {self.time_limit:g} s to render")

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > LOOP_MAX:
            raise SecurityError(f"loops may run at most {LOOP_MAX} times in all")
        self.check_time()


class _TooSlow(SecurityError):
    pass


_BUDGET: ContextVar[RenderBudget | None] = ContextVar("notification_render_budget", default=None)


def _spend(*, iteration: bool = False) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    if iteration:
        budget.tick()
    else:
        budget.check_time()


def _sized(value: Any, what: str) -> Any:
    """`value`, unless it is a text or list longer than any message may be."""
    if isinstance(value, str | list | tuple) and len(value) > VALUE_MAX:
        raise SecurityError(f"{what} makes {len(value)} items; at most {VALUE_MAX} are allowed")
    return value


def _fits(size: int, what: str) -> None:
    if size > VALUE_MAX:
        raise SecurityError(f"{what} would make {size} characters; at most {VALUE_MAX} are allowed")


def _width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > WIDTH_MAX:
        raise SecurityError(f"{what} may be at most {WIDTH_MAX}")
    if isinstance(value, str) and len(value) > WIDTH_MAX:
        raise SecurityError(f"{what} may be at most {WIDTH_MAX} characters")


# A printf conversion: `%(name)-08.3f`; `*` takes the width from the arguments.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.DOTALL)


def _check_printf(fmt: str) -> None:
    for match in _PRINTF.finditer(fmt):
        for number in match.group(1, 2):
            if number == "*":
                raise SecurityError("% formatting may not take its width from the arguments")
            if number and int(number) > WIDTH_MAX:
                raise SecurityError(f"% formatting widths may be at most {WIDTH_MAX}")


def _check_format_spec(fmt: str) -> None:
    for _literal, name, spec, _conversion in Formatter().parse(fmt):
        if name is None or not spec:
            continue
        if "{" in spec:
            raise SecurityError("format specifications may not contain fields")
        for number in re.findall(r"\d+", spec):
            if int(number) > WIDTH_MAX:
                raise SecurityError(f"format widths may be at most {WIDTH_MAX}")


def _predicted_replace(text: str, old: str, new: str, count: int | None) -> int:
    times = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(new) - len(old))


# Filters whose arguments make output out of nothing; the named arguments are capped.
_CAPPED_FILTER_ARGS: dict[str, frozenset[str]] = {
    "center": frozenset({"width"}),
    "indent": frozenset({"width"}),
    "wordwrap": frozenset({"width", "wrapstring"}),
    "truncate": frozenset({"length", "leeway"}),
    "batch": frozenset({"linecount"}),
    "slice": frozenset({"slices"}),
    "round": frozenset({"precision"}),
}
# str methods that pad: `'x'.ljust(10**8)`.
_PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func`, checked: time, capped arguments, and the size of what it returns."""
    capped = _CAPPED_FILTER_ARGS.get(name, frozenset())
    # Only these filters' arguments are read. Jinja wraps some filters (async variants) in a function that
    # takes the eval context first, which the wrapped function's signature does not show.
    signature = inspect.signature(inspect.unwrap(func)) if capped or name in {"format", "replace"} else None
    passes = getattr(func, "jinja_pass_arg", None) is not None
    skip = int(passes and getattr(inspect.unwrap(func), "jinja_pass_arg", None) is None)

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        if signature is None:
            return _sized(func(*args, **kwargs), f"|{name}")
        bound = signature.bind(*args[skip:], **kwargs).arguments
        for arg in capped & bound.keys():
            _width(bound[arg], f"the {arg} of |{name}")
        if name == "format":
            _check_printf(str(bound.get("value", "")))
        if name == "replace" and isinstance(bound.get("s"), str):
            size = _predicted_replace(bound["s"], str(bound["old"]), str(bound["new"]), bound.get("count"))
            _fits(size, "|replace")
        if name == "indent" and isinstance(bound.get("s"), str):
            width = bound.get("width", 4)
            lines = bound["s"].count("\n") + 1
            _fits(len(bound["s"]) + lines * (len(width) if isinstance(width, str) else int(width)), "|indent")
        return _sized(func(*args, **kwargs), f"|{name}")

    return guarded


class _Namespace(Namespace):
    """`namespace()`, whose attributes cannot grow past what a message may hold."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, _sized(value, "a namespace attribute"))


def _range(*args: int) -> Iterable[int]:
    numbers = range(*args)
    if len(numbers) > RANGE_MAX:
        raise OverflowError(f"range may make at most {RANGE_MAX} items")
    return numbers


def _lipsum(*_args: Any, **_kwargs: Any) -> str:
    raise SecurityError("lipsum is not allowed in templates")


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates: each item counts against the render's budget."""
    for item in iterable:
        _spend(iteration=True)
        yield item


# Constructs that build text outside the output stream (where its length is not counted) or recurse.
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %} blocks",
    nodes.AssignBlock: "{% set %} blocks (set a variable to an expression instead)",
    nodes.Block: "{% block %}",
}


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox (no private or internal attributes, no changing lists or dicts), bounded in
    time and size: every loop counts against the render's budget, `range` makes at most RANGE_MAX
    items, and no operator, filter or method makes huge values out of small ones (`'x' * 10**9`,
    `'%9999999s' % x`, `x|center(10**8)`, `x.ljust(10**8)`, `10**10**10`)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _guarded_filter(name, func) for name, func in self.filters.items()}
        self.filters["_counted"] = _counted
        self.globals.update(range=_range, lipsum=_lipsum, namespace=_Namespace)

    def parse_checked(self, source: str) -> nodes.Template:
        tree = self.parse(source)
        for kind, what in _REFUSED_NODES.items():
            if next(tree.find_all(kind), None) is not None:
                raise SecurityError(f"templates may not use {what}")
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                raise SecurityError("templates may not use recursive loops")
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend()
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        if operator == "*":
            sequence, times = (left, right) if isinstance(left, str | list | tuple) else (right, left)
            repeats = isinstance(sequence, str | list | tuple) and isinstance(times, int)
            if repeats and len(sequence) * times > REPEAT_MAX:
                raise SecurityError(f"repeating with * may make at most {REPEAT_MAX} items")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > INT_BITS:
                raise SecurityError("numbers in templates may not grow that large")
        if operator == "%" and isinstance(left, str):
            _check_printf(left)
        joins = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        if operator == "+" and joins and len(left) + len(right) > VALUE_MAX:
            raise SecurityError(f"+ may make at most {VALUE_MAX} items")
        return _sized(super().call_binop(context, operator, left, right), f"the {operator} operator")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format_spec(value.__self__)
        return wrapped

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _spend()
        owner, method = getattr(obj, "__self__", None), getattr(obj, "__name__", "")
        if isinstance(owner, str) and method in _PADDING_METHODS:
            for arg in (*args, *kwargs.values()):
                _width(arg, f"the width of {method}()")
        if isinstance(owner, str) and method == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else kwargs.get("count")
            _fits(_predicted_replace(owner, str(args[0]), str(args[1]), count), "replace()")
        return _sized(super().call(context, obj, *args, **kwargs), "a call")


# An empty loader: `{% include %}`, `{% import %}` and `{% extends %}` find nothing.
_ENV = _Sandbox(loader=DictLoader({}), autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)


# What a template can raise at run time besides Jinja's own errors (RecursionError: `loop()` on itself).
_RENDER_ERRORS = (
    TemplateError,
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    RecursionError,
    AssertionError,  # |truncate asserts its arguments
)


@lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    return _ENV.from_string(_ENV.parse_checked(source))


def render(
    source: str, variables: Mapping[str, Any], *, field: str = "body", time_limit: float = RENDER_SECONDS
) -> str:
    """Render one template text; every way it can fail becomes a TemplateProblem with a clear message.

    Output is counted as it is made: a template that would write more than BODY_MAX characters stops there.
    """
    budget = RenderBudget(time_limit)
    token = _BUDGET.set(budget)
    try:
        parts: list[str] = []
        size = 0
        for part in _compile(source).generate(variables):
            budget.check_time()
            size += len(part)
            if size > BODY_MAX:
                break
            parts.append(part)
        text = "".join(parts)
    except TemplateSyntaxError as error:
        raise TemplateProblem(field, f"line {error.lineno}: {error.message}") from error
    except _TooSlow as error:
        raise TemplateProblem(field, str(error)) from error
    except SecurityError as error:
        raise TemplateProblem(field, f"not allowed: {error}") from error
    except UndefinedError as error:
        known = ", ".join(sorted(variables))
        raise TemplateProblem(field, f"{error.message}; the variables are {known}") from error
    except TemplateNotFound as error:
        raise TemplateProblem(field, "templates cannot include, import or extend other templates") from error
    except _RENDER_ERRORS as error:
        raise TemplateProblem(field, f"{type(error).__name__}: {error}") from error
    finally:
        _BUDGET.reset(token)
    if size > BODY_MAX:
        raise TemplateProblem(field, f"renders more than {BODY_MAX} characters; at most {BODY_MAX} are sent")
    if "\x00" in text:
        raise TemplateProblem(field, "must not render NUL characters")
    return text


def render_message(
    channel: Channel,
    subject: str | None,
    body: str,
    variables: Mapping[str, Any],
    *,
    time_limit: float = RENDER_SECONDS,
) -> tuple[str | None, str]:
    """(subject, body) of one message. A subject is one line (no header injection), cut to SUBJECT_MAX."""
    if channel is Channel.SMS:
        if subject is not None:
            raise TemplateProblem("subject", "an SMS has no subject")
        return None, render(body, variables, time_limit=time_limit)
    if not subject:
        raise TemplateProblem("subject", "an email needs a subject")
    line = one_line(render(subject, variables, field="subject", time_limit=time_limit))
    if not line:
        raise TemplateProblem("subject", "renders empty")
    if len(line) > SUBJECT_MAX:
        line = line[: SUBJECT_MAX - 1] + "…"
    text = render(body, variables, time_limit=time_limit)
    if not text.strip():
        raise TemplateProblem("body", "renders empty")
    return line, text


def one_line(text: str) -> str:
    """A subject as it is sent: every run of whitespace, line breaks included, becomes one space."""
    return " ".join(text.split())


def render_kind(
    kind: EventKind,
    channel: Channel,
    subject: str | None,
    body: str,
    variables: Mapping[str, Any],
    *,
    time_limit: float = RENDER_SECONDS,
) -> tuple[str | None, str]:
    """`render_message` for an event of `kind`; a kind with a secret must show it, as it is, in the body
    (where the dispatcher puts it in) and never in the subject (mail lists and lock screens show subjects)."""
    line, text = render_message(channel, subject, body, variables, time_limit=time_limit)
    if kind.secret is not None:
        if SECRET_PLACEHOLDER in (line or ""):
            raise TemplateProblem("subject", f"must not show {{{{ {kind.secret} }}}}")
        if SECRET_PLACEHOLDER not in text:
            raise TemplateProblem("body", f"must show {{{{ {kind.secret} }}}} as it is, without filters")
    return line, text


def check_template(
    kind: EventKind, channel: Channel, subject: str | None, body: str, tz: tzinfo, *, time_limit: float
) -> None:
    """Raise the TemplateProblem of the first variant of `kind`'s sample (see `check_variants`) the
    template does not render for. `time_limit` bounds all the renders together."""
    deadline = time.monotonic() + time_limit
    for absent, variables in check_variants(kind, tz):
        try:
            render_kind(kind, channel, subject, body, variables, time_limit=max(0.0, deadline - time.monotonic()))
        except TemplateProblem as problem:
            if absent is None:
                raise
            raise TemplateProblem(problem.field, f"{problem.message} (when {absent})") from problem
