// order-status: a forge mutator in JavaScript, built as a WebAssembly component with
// componentize-js against the WIT world `mutator-plugin` (plugin-sdk/wit).
//
// It is stateful through the document, as the contract asks: each update reads the
// target's current document and moves its `status` one step along a chain
// (created → paid → packed → shipped → delivered by default), bumping `version`:
//   {"$set": {"status": <next status>}, "$inc": {"version": 1}}
// A document with no status, a status off the chain or the chain's last one is skipped.
// `--plugin-arg order-status.chain=a,b,c` sets the chain.

import { log } from "forge:plugin/host@0.2.0";

let chain = ["created", "paid", "packed", "shipped", "delivered"];

// ---- a tiny BSON reader: the top-level elements of a document ----

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/// The value bytes' length of an element of type `type` at `at`, or -1 if unknown.
function valueLength(view, type, at) {
  switch (type) {
    case 0x01: case 0x09: case 0x11: case 0x12: return 8;
    case 0x02: case 0x0d: case 0x0e: return 4 + view.getInt32(at, true);
    case 0x03: case 0x04: case 0x0f: return view.getInt32(at, true);
    case 0x05: return 5 + view.getInt32(at, true);
    case 0x07: return 12;
    case 0x08: return 1;
    case 0x06: case 0x0a: case 0x7f: case 0xff: return 0;
    case 0x10: return 4;
    case 0x13: return 16;
    case 0x0b: {
      let end = at;
      for (let nul = 0; nul < 2; end++) if (view.getUint8(end) === 0) nul++;
      return end - at;
    }
    case 0x0c: return 4 + view.getInt32(at, true) + 12;
    default: return -1;
  }
}

/// The top-level field `name` of the BSON document `bytes`: {type, at, view} or null.
function find(bytes, name) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = view.getInt32(0, true) - 1;
  let i = 4;
  while (i < end) {
    const type = bytes[i++];
    const keyStart = i;
    while (bytes[i] !== 0) i++;
    const key = utf8.decode(bytes.subarray(keyStart, i++));
    if (key === name) return { type, at: i, view };
    const len = valueLength(view, type, i);
    if (len < 0) return null;
    i += len;
  }
  return null;
}

function readString(field) {
  const len = field.view.getInt32(field.at, true);
  return utf8.decode(new Uint8Array(field.view.buffer, field.view.byteOffset + field.at + 4, len - 1));
}

// ---- a tiny BSON writer ----

class Writer {
  constructor() {
    this.bytes = [];
  }
  cstr(s) {
    this.bytes.push(...encoder.encode(s), 0);
  }
  int32(v) {
    this.bytes.push(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
  }
  /// Starts a document (the top one when `name` is undefined); returns where its length goes.
  open(name) {
    if (name !== undefined) {
      this.bytes.push(0x03);
      this.cstr(name);
    }
    const at = this.bytes.length;
    this.int32(0);
    return at;
  }
  close(at) {
    this.bytes.push(0);
    const len = this.bytes.length - at;
    this.bytes.splice(at, 4, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, (len >>> 24) & 0xff);
  }
  string(name, s) {
    const utf = encoder.encode(s);
    this.bytes.push(0x02);
    this.cstr(name);
    this.int32(utf.length + 1);
    this.bytes.push(...utf, 0);
  }
  int(name, v) {
    this.bytes.push(0x10);
    this.cstr(name);
    this.int32(v);
  }
  done() {
    return new Uint8Array(this.bytes);
  }
}

// ---- the contract ----

export const mutator = {
  info() {
    return { name: "order-status", kind: "mutator", version: "0.1.0", contractVersion: "0.2.0", deletes: undefined };
  },

  init(config, _schema) {
    for (const [key, value] of config) {
      if (key === "chain") {
        chain = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
        if (chain.length < 2) {
          throw { kind: "invalid-config", message: "order-status.chain needs two statuses or more, comma-separated" };
        }
      } else {
        throw { kind: "invalid-config", message: `order-status takes no argument '${key}' (only 'chain')` };
      }
    }
    log("debug", `order-status moves documents along ${chain.join(" -> ")}`);
  },

  mutate(_ctx, target) {
    if (target.current === undefined) return { tag: "skip" };
    const status = find(target.current, "status");
    if (status === null || status.type !== 0x02) return { tag: "skip" };
    const at = chain.indexOf(readString(status));
    if (at < 0 || at === chain.length - 1) return { tag: "skip" };

    const w = new Writer();
    const top = w.open();
    const set = w.open("$set");
    w.string("status", chain[at + 1]);
    w.close(set);
    // $inc keeps the field's type (an int64 version stays int64) and creates it as 1.
    const inc = w.open("$inc");
    w.int("version", 1);
    w.close(inc);
    w.close(top);
    return { tag: "update", val: w.done() };
  },
};
