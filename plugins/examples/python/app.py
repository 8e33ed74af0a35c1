"""py-churn: a forge mutator in Python, built as a WebAssembly component with
componentize-py against the WIT world `mutator-plugin`.

Each update stamps the op index and churns the schema's fields the way an application
does: usually it sets one or two fields to fresh values (forge generates them from the
schema, so they keep their BSON types), and now and then it removes an optional one:

    {"$set": {"pyOp": <op index>, <field>: <fresh value>, ...}, "$unset": {<optional field>: ""}}

All randomness comes from forge's host (seeded per operation), so runs repeat.
`--plugin-arg py-churn.unset-percent=N` sets how often a field is removed (default 20).
"""

import struct

from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import (
    BsonType,
    ErrorKind,
    Mutation_Update,
    PluginError,
    PluginInfo,
    PluginKind,
)
from componentize_py_types import Err


def element(kind: int, name: str, value: bytes) -> bytes:
    """One BSON element: type byte, name, value bytes."""
    return bytes([kind]) + name.encode() + b"\x00" + value


def document(elements: list) -> bytes:
    body = b"".join(elements)
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


# The BSON element type byte of each WIT `bson-type` (the enum is in declaration order,
# not in BSON's).
ELEMENT_TYPE = {
    BsonType.DOUBLE: 0x01,
    BsonType.STRING: 0x02,
    BsonType.DOCUMENT: 0x03,
    BsonType.ARRAY: 0x04,
    BsonType.BINARY: 0x05,
    BsonType.OBJECT_ID: 0x07,
    BsonType.BOOLEAN: 0x08,
    BsonType.DATE_TIME: 0x09,
    BsonType.NULL: 0x0A,
    BsonType.REGEX: 0x0B,
    BsonType.INT32: 0x10,
    BsonType.TIMESTAMP: 0x11,
    BsonType.INT64: 0x12,
    BsonType.DECIMAL128: 0x13,
}


def fresh(path: str) -> bytes:
    """A fresh value for `path`, as a BSON element named `path`: forge answers the
    value's type and its bytes as they follow an element's name."""
    value = host.generate_field(path)
    return element(ELEMENT_TYPE[value.kind], path, value.bytes)


class State:
    """What init learns. componentize-py makes a new `Mutator` for each call, so state
    lives here, at module level."""

    unset_percent = 20
    fields: list = []
    optional: list = []


class Mutator(exports.Mutator):
    def info(self) -> PluginInfo:
        return PluginInfo("py-churn", PluginKind.MUTATOR, "0.2.0", "0.2.0", None)

    def init(self, config, schema) -> None:
        args = dict(config)
        try:
            State.unset_percent = int(args.get("unset-percent", "20"))
        except ValueError:
            raise Err(PluginError(ErrorKind.INVALID_CONFIG, "unset-percent must be a whole number"))
        State.fields = [f.path for f in host.fields()]
        State.optional = [f.path for f in host.fields() if f.optional]
        if not State.fields:
            raise Err(PluginError(ErrorKind.INVALID_CONFIG, "py-churn needs a schema with fields"))

    def mutate(self, ctx, target) -> Mutation_Update:
        sets = [element(0x12, "pyOp", struct.pack("<q", ctx.op_index))]
        chosen = set()
        for _ in range(host.random_range(1, 2)):
            chosen.add(State.fields[host.random_below(len(State.fields))])
        for path in sorted(chosen):
            sets.append(fresh(path))
        update = [element(0x03, "$set", document(sets))]
        if State.optional and host.random_below(100) < State.unset_percent:
            path = State.optional[host.random_below(len(State.optional))]
            if all(path != c and not path.startswith(c + ".") and not c.startswith(path + ".") for c in chosen):
                update.append(element(0x03, "$unset", document([element(0x02, path, struct.pack("<i", 1) + b"\x00")])))
        return Mutation_Update(document(update))
