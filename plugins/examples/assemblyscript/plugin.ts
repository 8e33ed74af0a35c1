// as-archive: a forge delete behavior in AssemblyScript, built as a core WebAssembly
// module that speaks the fallback ABI (plugin-sdk/ABI.md). Deletes become soft
// deletes that record which operation archived the document, why and when:
//   {"$set": {"archived": true, "archivedOp": <op index>, "archivedReason": <reason>},
//    "$currentDate": {"archivedAt": true}}
// forge_info declares that shape (a tombstone with flag "archived" and deletedAt
// "archivedAt"). forge reads info before init, so the declared fields cannot come from
// the configuration; the reason can: --plugin-arg as-archive.reason=TEXT (default
// "deleted").

// ---- memory: a bump allocator, reset whenever every buffer is back ----

const HEAP_SIZE: u32 = 64 * 1024;
const HEAP: usize = memory.data(HEAP_SIZE);
let top: u32 = 0;
let live: i32 = 0;

export function forge_alloc(len: u32): u32 {
  if (top + len > HEAP_SIZE) unreachable();
  const p = <u32>HEAP + top;
  top += len;
  live++;
  return p;
}

export function forge_free(ptr: u32, len: u32): void {
  live--;
  if (live == 0) top = 0;
}

export function forge_abi_version(): i32 {
  return 200; // contract 0.2.0: major*10000 + minor*100 + patch
}

// ---- a tiny BSON writer ----

let pos: u32 = 0;

function byte(b: u8): void {
  store<u8>(pos, b);
  pos++;
}

function int32(v: i32): void {
  store<i32>(pos, v); // wasm is little-endian, as BSON is
  pos += 4;
}

function cstr(s: string): void {
  for (let i = 0; i < s.length; i++) byte(<u8>s.charCodeAt(i));
  byte(0);
}

function open(): u32 {
  const at = pos;
  pos += 4;
  return at;
}

function close(at: u32): void {
  byte(0);
  store<i32>(at, pos - at);
}

function doc(name: string): u32 {
  byte(0x03);
  cstr(name);
  return open();
}

function str(name: string, s: string): void {
  byte(0x02);
  cstr(name);
  int32(s.length + 1);
  cstr(s);
}

function pack(ptr: u32, len: u32): i64 {
  return (<i64>ptr << 32) | <i64>len;
}

// ---- a tiny BSON reader: finds an element by name and type ----

function find(d: u32, name: string, kind: u8): u32 {
  const end = d + <u32>load<i32>(d);
  let i = d + 4;
  while (i < end - 1) {
    const t = load<u8>(i);
    i++;
    const keyStart = i;
    while (load<u8>(i) != 0) i++;
    let same = i - keyStart == <u32>name.length;
    for (let k = 0; same && k < name.length; k++) same = load<u8>(keyStart + k) == <u8>name.charCodeAt(k);
    i++;
    if (same && t == kind) return i;
    if (t == 0x01 || t == 0x09 || t == 0x11 || t == 0x12) i += 8;
    else if (t == 0x02) i += 4 + <u32>load<i32>(i);
    else if (t == 0x03 || t == 0x04) i += <u32>load<i32>(i);
    else if (t == 0x05) i += 5 + <u32>load<i32>(i);
    else if (t == 0x07) i += 12;
    else if (t == 0x08) i += 1;
    else if (t == 0x10) i += 4;
    else if (t == 0x13) i += 16;
    else if (t != 0x0a) return 0;
  }
  return 0;
}

function readString(at: u32): string {
  const len = load<i32>(at) - 1;
  let s = "";
  for (let k = 0; k < len; k++) s += String.fromCharCode(load<u8>(at + 4 + k));
  return s;
}

// ---- the contract ----

const FLAG = "archived";
const DELETED_AT = "archivedAt";
let reason = "deleted";

export function forge_info(): i64 {
  const start = forge_alloc(256);
  pos = start;
  const d = open();
  str("name", "as-archive");
  str("kind", "delete-behavior");
  str("version", "0.2.0");
  str("contract", "0.2.0");
  const deletes = doc("deletes");
  const tomb = doc("tombstone");
  str("flag", FLAG);
  str("deletedAt", DELETED_AT);
  close(tomb);
  close(deletes);
  close(d);
  return pack(start, pos - start);
}

export function forge_init(ptr: u32, len: u32): i64 {
  const config = find(ptr, "config", 0x03);
  if (config != 0) {
    const r = find(config, "reason", 0x02);
    if (r != 0) reason = readString(r);
  }
  const start = forge_alloc(64);
  pos = start;
  const d = open();
  byte(0x0a); // ok: null
  cstr("ok");
  close(d);
  return pack(start, pos - start);
}

export function forge_delete(ptr: u32, len: u32): i64 {
  let op: i64 = -1;
  const ctx = find(ptr, "ctx", 0x03);
  if (ctx != 0) {
    const o = find(ctx, "op", 0x12);
    if (o != 0) op = load<i64>(o);
  }
  const start = forge_alloc(512);
  pos = start;
  const d = open();
  const ok = doc("ok");
  const tomb = doc("tombstone");
  const set = doc("$set");
  byte(0x08); // bool
  cstr(FLAG);
  byte(1);
  byte(0x12); // int64
  cstr(FLAG + "Op");
  store<i64>(pos, op);
  pos += 8;
  str(FLAG + "Reason", reason);
  close(set);
  const now = doc("$currentDate");
  byte(0x08);
  cstr(DELETED_AT);
  byte(1);
  close(now);
  close(tomb);
  close(ok);
  close(d);
  return pack(start, pos - start);
}
