"""The filter registry: a table of filter classes by name that the filters fill.

Every import arrow points one way, from ``filters`` to ``core``: a filter module
imports this one and adds its class with the ``@register_filter`` decorator;
``FilterFactory`` only reads the table (``registered``, ``registered_names``) and
never imports ``filters``. The session package's ``__init__.py`` imports
``filters``, so the built-in filters are in the table before anyone asks for one.

Because ``core`` may not import ``BaseFilter``, a filter class is recognised by its
shape: a class with a ``name`` and the ``apply`` and ``describe_parameters``
methods that ``BaseFilter`` gives every subclass.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # type hints only, never imported at run time
    from ..filters.base import BaseFilter

    FilterClass = TypeVar("FilterClass", bound=type[BaseFilter])

_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")

_FILTERS: dict[str, type[BaseFilter]] = {}


def register_filter(filter_class: FilterClass) -> FilterClass:
    """Add a filter class under its ``name``; returns the class, so it works as a decorator."""
    if not (isinstance(filter_class, type)
            and all(callable(getattr(filter_class, method, None))
                    for method in ("apply", "describe_parameters"))):
        raise TypeError(
            f"register_filter() expects a subclass of BaseFilter, got {filter_class!r}")
    name = getattr(filter_class, "name", None)
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"{filter_class.__name__}.name must be a lowercase word such as 'sepia' "
            f"(letters, digits and _), got {name!r}")
    existing = _FILTERS.get(name)
    # The same class defined again (a reloaded module, a re-run notebook cell)
    # replaces the old one; a different class may not steal a name.
    if existing is not None and _qualified(existing) != _qualified(filter_class):
        raise ValueError(
            f"the filter name {name!r} is already taken by {_qualified(existing)}; "
            f"give {filter_class.__name__} another name")
    _FILTERS[name] = filter_class
    return filter_class


def registered(name: str) -> type[BaseFilter] | None:
    """The filter class registered under ``name``, or None."""
    return _FILTERS.get(name)


def registered_names() -> list[str]:
    """The registered filter names, sorted."""
    return sorted(_FILTERS)


def _qualified(filter_class: type) -> str:
    return f"{filter_class.__module__}.{filter_class.__qualname__}"
