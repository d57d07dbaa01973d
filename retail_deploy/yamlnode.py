"""Line-aware YAML: every value remembers its file, key path and line.

PyYAML forgets where a value came from once it is constructed. Configuration errors must name
file, key and line (docs/architecture.md, "Public contract"), so mappings are loaded as `_LineMap`
(a dict that keeps the line of each key) and read through `Node`, whose accessors validate types and raise
`ConfigError("config.yaml:12: environments.staging.namespace: expected a string")`.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

import yaml

from retail_deploy import validate
from retail_deploy.errors import ConfigError, InputError

Text = builtins.str
_MISSING: Any = object()  # "no default": the key is required (Any: it stands in for any default)
D = TypeVar("D")  # the type of an accessor's default, returned when the key is absent


class _LineMap(dict[Any, Any]):  # raw YAML: keys and values of any kind
    """A dict that also records the line of its own start and of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _LineList(list[Any]):
    line: int = 0


# A platform config is a few kilobytes. These bounds refuse, with one line, what would otherwise
# exhaust memory or time: a huge file, deep nesting, or an alias "bomb" (`b: [*a, *a, ...]` nested
# a few levels expands to billions of nodes for `config.show` to walk).
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, refuses duplicate keys (YAML silently keeps the last)
    and replaces `${VAR}` / `${VAR:-default}` in strings with the environment's values (`$$` is a `$`)."""

    environ: Mapping[Text, Text] = {}
    used_variables: set[Text]

    def construct_yaml_str(self, node: yaml.ScalarNode) -> Text:
        text = self.construct_scalar(node)
        if "$" not in text:
            return Text(text)

        def substitute(match: re.Match[Text]) -> Text:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group("name"), match.group("default")
            self.used_variables.add(name)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{self.name}:{node.start_mark.line + 1}: environment variable {name} is not set "
                f"(set it, or give a default: ${{{name}:-value}})"
            )

        return _VARIABLE.sub(substitute, text)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _LineMap:
        # YAML merge keys (`<<: *staging`): the mapping's own keys override merged ones, and an
        # earlier merged mapping wins over a later one; only two of its OWN keys are a duplicate.
        own = {id(key_node) for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge"}
        self.flatten_mapping(node)
        mapping = _LineMap()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        own_keys: dict[Any, int] = {}
        for key_node, _ in node.value:
            if id(key_node) in own:
                key = self.construct_object(key_node, deep=True)
                if key in own_keys:
                    raise ConfigError(
                        f"{self.name}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                        f"(first at line {own_keys[key]})"
                    )
                own_keys[key] = key_node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            merged = id(key_node) not in own
            if merged and (key in own_keys or key in mapping):
                continue
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> _LineList:
        items = _LineList(self.construct_object(child, deep=True) for child in node.value)
        items.line = node.start_mark.line + 1
        return items


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:str", _Loader.construct_yaml_str)


def load_file(path: Path, environ: Mapping[Text, Text]) -> tuple[Node, set[Text]]:
    """Parse a YAML file into a root Node (and the environment variables it referenced);
    syntax errors become one-line ConfigErrors."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB: "
                              "is it the platform config?")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
                          f"{error.start}); save the file as UTF-8") from None
    try:
        loader = _Loader(text)
    except yaml.YAMLError as error:  # a control character the YAML reader refuses
        raise ConfigError(f"{path}: not a YAML text: {' '.join(str(error).split())}") from None
    loader.name = str(path)
    loader.environ = environ
    loader.used_variables = set()
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {error.problem or error.context}") from None
    except yaml.YAMLError as error:  # e.g. a control character the YAML reader refuses
        raise ConfigError(f"{path}: YAML error: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the file must hold a mapping of sections (services:, environments:, ...)")
    return Node(data, str(path), "", 1), loader.used_variables


def _check_size(root: yaml.Node, path: Path) -> None:
    """Refuse a document nested more than MAX_DEPTH levels, or whose aliases expand to more than
    MAX_EXPANDED_NODES nodes (counted without expanding them: each node's size is memoised)."""
    sizes: dict[int, int] = {}
    # Iterative post-order walk: (node, depth, children done?).
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    active: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{path}:{node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        children = _children(node)
        if done:
            active.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_EXPANDED_NODES + 1)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise ConfigError(f"{path}:{node.start_mark.line + 1}: aliases expand to more than "
                                  f"{MAX_EXPANDED_NODES:,} values (an alias bomb?)")
            continue
        if id(node) in sizes:
            continue
        if id(node) in active:
            raise ConfigError(f"{path}:{node.start_mark.line + 1}: an alias refers to a mapping or list "
                              "that contains it")
        active.add(id(node))
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


@dataclass(frozen=True)
class Node:
    """A value read from a config file, with the place it came from."""

    value: Any
    file: Text
    path: Text
    line: int

    # -- errors -----------------------------------------------------------------------------
    def error(self, message: Text) -> ConfigError:
        key = self.path or "(top level)"
        return ConfigError(f"{self.file}:{self.line}: {key}: {message}")

    # -- navigation -------------------------------------------------------------------------
    def _require_mapping(self) -> dict[Any, Any]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        return self.value

    def has(self, key: Text) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def get(self, key: Text) -> Node | None:
        mapping = self._require_mapping()
        if key not in mapping:
            return None
        lines = getattr(mapping, "key_lines", {})
        return Node(mapping[key], self.file, _join(self.path, key), lines.get(key, self.line))

    def require(self, key: Text) -> Node:
        node = self.get(key)
        if node is None or node.value is None:
            raise self.error(f"missing required key {key!r}")
        return node

    def section(self, key: Text) -> Node:
        """A child mapping, or an empty one where the key is absent (chapters own optional sections)."""
        node = self.get(key)
        if node is None or node.value is None:
            return Node(_empty_map(self.line), self.file, _join(self.path, key), self.line)
        node._require_mapping()
        return node

    def items(self) -> Iterator[tuple[Text, Node]]:
        mapping = self._require_mapping()
        for key in mapping:
            child = self.get(key)
            assert child is not None
            yield Text(key), child

    def elements(self) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_kind(self.value)}")
        line = getattr(self.value, "line", self.line)
        return [
            Node(item, self.file, f"{self.path}[{index}]", getattr(item, "line", line + index))
            for index, item in enumerate(self.value)
        ]

    def unknown_keys(self, allowed: set[Text] | frozenset[Text]) -> None:
        """Refuse misspelt keys: a silently ignored `namepsace:` is a production incident."""
        for key, child in self.items():
            if key not in allowed:
                raise child.error(f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    # -- typed accessors --------------------------------------------------------------------
    def _given(self, key: Text, default: object) -> Node | None:
        """The child holding a value, or None when it is absent or null and `default` applies;
        a required key (no default) that is missing raises."""
        node = self.get(key)
        if node is None or node.value is None:
            if default is _MISSING:
                raise self.error(f"missing required key {key!r}")
            return None
        return node

    def _typed(self, key: Text, default: object, kinds: tuple[type, ...], label: Text) -> object:
        node = self._given(key, default)
        if node is None:
            return default
        if isinstance(node.value, bool) and bool not in kinds:
            raise node.error(f"expected {label}, got a boolean")
        if not isinstance(node.value, kinds):
            raise node.error(f"expected {label}, got {_kind(node.value)}")
        return node.value

    @overload
    def str(self, key: Text) -> Text: ...
    @overload
    def str(self, key: Text, default: D) -> Text | D: ...
    def str(self, key: Text, default: object = _MISSING) -> object:
        value = self._typed(key, default, (Text, int, float), "a string")
        return value if value is None or value is default else Text(value)

    @overload
    def int(self, key: Text) -> builtins.int: ...
    @overload
    def int(self, key: Text, default: D) -> builtins.int | D: ...
    def int(self, key: Text, default: object = _MISSING) -> object:
        return self._typed(key, default, (builtins.int,), "an integer")

    @overload
    def float(self, key: Text) -> builtins.float: ...
    @overload
    def float(self, key: Text, default: D) -> builtins.float | D: ...
    def float(self, key: Text, default: object = _MISSING) -> object:
        value = self._typed(key, default, (builtins.int, builtins.float), "a number")
        if value is None or value is default or not isinstance(value, builtins.int | builtins.float):
            return value  # the default, as given
        return builtins.float(value)

    @overload
    def bool(self, key: Text) -> builtins.bool: ...
    @overload
    def bool(self, key: Text, default: D) -> builtins.bool | D: ...
    def bool(self, key: Text, default: object = _MISSING) -> object:
        return self._typed(key, default, (builtins.bool,), "true or false")

    @overload
    def duration(self, key: Text) -> builtins.float: ...
    @overload
    def duration(self, key: Text, default: None) -> builtins.float | None: ...
    @overload
    def duration(self, key: Text, default: Text | builtins.float) -> builtins.float: ...
    def duration(self, key: Text, default: Text | builtins.float | None = _MISSING) -> builtins.float | None:
        """Seconds from '30s', '5m', '1h', '500ms' or a number."""
        node = self._given(key, default)
        if node is None:
            return default if default is None else validate.duration(default)
        try:
            return validate.duration(node.value)
        except InputError as error:
            raise node.error(Text(error)) from None

    @overload
    def list(self, key: Text) -> builtins.list[Node]: ...
    @overload
    def list(self, key: Text, default: D) -> builtins.list[Node] | D: ...
    def list(self, key: Text, default: object = _MISSING) -> object:
        node = self._given(key, default)
        return default if node is None else node.elements()

    @overload
    def str_list(self, key: Text) -> tuple[Text, ...]: ...
    @overload
    def str_list(self, key: Text, default: D) -> tuple[Text, ...] | D: ...
    def str_list(self, key: Text, default: object = _MISSING) -> object:
        nodes = self.list(key) if default is _MISSING else self.list(key, None)
        if nodes is None:
            return default
        values = []
        for node in nodes:
            if not isinstance(node.value, Text | builtins.int | builtins.float) or isinstance(node.value, builtins.bool):
                raise node.error(f"expected a string, got {_kind(node.value)}")
            values.append(Text(node.value))
        return tuple(values)

    @overload
    def str_map(self, key: Text) -> dict[Text, Text]: ...
    @overload
    def str_map(self, key: Text, default: D) -> dict[Text, Text] | D: ...
    def str_map(self, key: Text, default: object = _MISSING) -> object:
        node = self._given(key, default)
        if node is None:
            return default
        result = {}
        for name, child in node.items():
            if isinstance(child.value, dict | list) or child.value is None:
                raise child.error(f"expected a string, got {_kind(child.value)}")
            result[name] = _scalar_text(child.value)
        return result

    @overload
    def choice(self, key: Text, allowed: tuple[Text, ...]) -> Text: ...
    @overload
    def choice(self, key: Text, allowed: tuple[Text, ...], default: D) -> Text | D: ...
    def choice(self, key: Text, allowed: tuple[Text, ...], default: object = _MISSING) -> object:
        value = self.str(key, default)
        if value is not None and value not in allowed:
            node = self.get(key)
            raise (node or self).error(f"{value!r} is not one of: {', '.join(allowed)}")
        return value


def _scalar_text(value: object) -> Text:
    if isinstance(value, bool):
        return "true" if value else "false"
    return Text(value)


def _empty_map(line: int) -> _LineMap:
    mapping = _LineMap()
    mapping.line = line
    mapping.key_lines = {}
    return mapping


def _join(path: Text, key: object) -> Text:
    return f"{path}.{key}" if path else Text(key)


def _kind(value: object) -> Text:
    if value is None:
        return "nothing"
    for kind, label in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"), (Text, "a string")):
        if isinstance(value, kind):
            return label
    return "a number" if isinstance(value, builtins.int | builtins.float) else f"a {type(value).__name__}"
