"""Templates cannot eat the machine (issue 11 part 4), on every platform, with no signal or thread.

A template is the user's own text, but a careless one (`{{ 9**(9**9) }}`, `{{ Nome * 10**8 }}`,
three nested loops) ran for minutes or took gigabytes, in `check`, the preview, the Campi menu and
the `PEC_ANTEPRIMA` function. A big C-level `pow` cannot be interrupted, so each operation is
refused *before* it runs when its result would be too big:

- every arithmetic operator is intercepted, which also stops jinja folding constants while it
  compiles (it folds only what the sandbox does not intercept);
- repetition (`*`), padding and widths (`center`, `ljust`, `%9999d`, `{:9999}`) are bounded;
- every loop iteration and every call spends one step of a per-render budget (loops and recursive
  macros are the only ways to repeat);
- the output is streamed and stops at the size limit (`render` in `templates`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from numbers import Number

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

MAX_INT_BITS = 4096  # about 1,200 decimal digits: beyond any amount, date or code
MAX_VALUE_CHARS = 1_000_000  # a string or list built inside a template
MAX_WIDTH = 1_000  # padding, field width, precision, indent
MAX_STEPS = 100_000  # loop iterations plus calls, per render (a real template needs hundreds)
LOOP_FILTER = "_pecmass_counted_loop"


class TemplateLimit(Exception):
    """A template went beyond a limit; the message is Italian and names the limit."""


class _Budget(threading.local):
    steps = 0


BUDGET = _Budget()


def _n(number: int) -> str:
    """`1.000.000`: Italian thousands separators."""
    return f"{number:,}".replace(",", ".")


def reset_budget() -> None:
    BUDGET.steps = 0


def spend(steps: int = 1) -> None:
    BUDGET.steps += steps
    if BUDGET.steps > MAX_STEPS:
        raise TemplateLimit(f"il modello ripete troppe operazioni (oltre {_n(MAX_STEPS)} tra cicli e chiamate)")


def _size(value: object) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_size(value: object) -> object:
    size = _size(value)
    if size is not None and size > MAX_VALUE_CHARS:
        raise TemplateLimit(f"il modello produce un valore troppo grande (oltre {_n(MAX_VALUE_CHARS)} caratteri)")
    return value


def _bits(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 64 if isinstance(value, Number) else 0
    return value.bit_length()


def _too_big_number() -> TemplateLimit:
    return TemplateLimit("il modello calcola un numero troppo grande")


def _check_width(value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        raise TemplateLimit(f"larghezza o ripetizione {_n(value)} oltre il limite di {_n(MAX_WIDTH)}")


# A field width or precision of four digits or more, or one taken from the arguments.
_PERCENT_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d{4,})|%(?:\([^)]*\))?[-#0 +]*\d*\.(?:\*|\d{4,})")
_BRACE_WIDTH = re.compile(r"\{[^{}]*:[^{}]*(?:\d{4,}|\{)")


def check_format_string(fmt: object) -> None:
    if isinstance(fmt, str) and (_PERCENT_WIDTH.search(fmt) or _BRACE_WIDTH.search(fmt)):
        raise TemplateLimit(f"il formato chiede una larghezza oltre il limite di {_n(MAX_WIDTH)}")


def _check_replace(text: object, args: tuple) -> None:
    if isinstance(text, str) and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        old, new = args[0], args[1]
        count = (len(text) + 1) if not old else text.count(old)
        if len(text) + count * len(new) > MAX_VALUE_CHARS:
            raise TemplateLimit(f"la sostituzione produce un valore troppo grande (oltre {_n(MAX_VALUE_CHARS)} caratteri)")


def check_binop(operator: str, left: object, right: object) -> None:
    """Refuse an operation whose result would be too big, before computing it."""
    if operator == "**":
        if isinstance(right, Number) and not isinstance(right, bool) and isinstance(left, Number):
            if abs(right) > MAX_INT_BITS or _bits(left) * abs(right) > MAX_INT_BITS:  # type: ignore[arg-type]
                if not (isinstance(left, int) and abs(left) <= 1):
                    raise _too_big_number()
    elif operator == "*":
        for seq, times in ((left, right), (right, left)):
            size = _size(seq)
            if size is not None and isinstance(times, int):
                if size * max(times, 0) > MAX_VALUE_CHARS:
                    raise TemplateLimit(f"il modello ripete un valore oltre {_n(MAX_VALUE_CHARS)} caratteri")
                return
        if _bits(left) + _bits(right) > MAX_INT_BITS:
            raise _too_big_number()
    elif operator == "+":
        left_size, right_size = _size(left), _size(right)
        if left_size is not None and right_size is not None and left_size + right_size > MAX_VALUE_CHARS:
            raise TemplateLimit(f"il modello produce un valore troppo grande (oltre {_n(MAX_VALUE_CHARS)} caratteri)")
    elif operator == "%" and isinstance(left, str):
        check_format_string(left)


_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox with every operator, call and loop metered (see the module docstring)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def call_binop(self, context, operator, left, right):
        check_binop(operator, left, right)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja's own signature)
        spend()
        for value in args:  # `~` cannot be intercepted: a macro doubling its argument stops here
            _check_size(value)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        wrapped = getattr(__obj, "__wrapped__", None)
        if wrapped is not None and isinstance(getattr(wrapped, "__self__", None), str):
            check_format_string(wrapped.__self__)  # str.format, already wrapped by the sandbox
        if isinstance(owner, str):
            if name in _PADDING_METHODS:
                for value in list(args) + list(kwargs.values()):
                    _check_width(value)
            elif name == "replace":
                _check_replace(owner, args)
        return _check_size(SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs))


def _limited_filter(function):
    """A built-in filter with its widths bounded and its result size checked."""
    name = getattr(function, "__name__", "")

    def limited(*args, **kwargs):
        for value in args:
            _check_size(value)
        values = list(args[1:]) + list(kwargs.values())
        if args and name in ("do_format",):
            check_format_string(args[0])
        elif name in ("do_center", "do_indent", "do_wordwrap", "do_truncate", "do_batch", "do_slice"):
            for value in values:
                _check_width(value)
        elif name == "do_replace" and len(args) >= 4:  # (eval context, text, old, new[, count])
            _check_replace(str(args[1]), (str(args[2]), str(args[3])))
        return _check_size(function(*args, **kwargs))

    for attribute in ("jinja_pass_arg",):
        if hasattr(function, attribute):
            setattr(limited, attribute, getattr(function, attribute))
    limited.__name__ = name
    return limited


def counted_loop(iterable: Iterable) -> Iterator:
    """Every loop goes through here (see `count_loops`): one budget step per iteration."""
    for item in iterable:
        spend()
        yield item


def limit_filters(env: SandboxedEnvironment) -> None:
    for name, function in list(env.filters.items()):
        env.filters[name] = _limited_filter(function)
    env.filters[LOOP_FILTER] = counted_loop


def count_loops(ast: nodes.Template) -> nodes.Template:
    """Route every `{% for %}` through the counting filter (the AST is compiled afterwards)."""
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    return ast
