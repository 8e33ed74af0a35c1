//! zig-touch: a forge mutator written in Zig, built as a core WebAssembly module that
//! speaks the fallback ABI (plugin-sdk/ABI.md). Each update stamps the op index, rolls
//! a seeded die through forge's random source, and counts edits:
//!   {"$set": {"zig.op": <op index>, "zig.lucky": <1..6>}, "$inc": {"zig.edits": 1}}
//! No std, no WASI: the module imports only forge's host functions.

extern "forge" fn random_range(lo: i64, hi: i64) i64;

// ---- memory: a bump allocator, reset whenever every buffer is back ----

var heap: [64 * 1024]u8 = undefined;
var top: usize = 0;
var live: usize = 0;

export fn forge_alloc(len: u32) u32 {
    if (top + len > heap.len) @trap();
    const p = @intFromPtr(&heap[top]);
    top += len;
    live += 1;
    return @intCast(p);
}

export fn forge_free(ptr: u32, len: u32) void {
    _ = ptr;
    _ = len;
    live -= 1;
    if (live == 0) top = 0;
}

export fn forge_abi_version() i32 {
    return 200; // contract 0.2.0: major*10000 + minor*100 + patch
}

// ---- a tiny BSON writer ----

const Writer = struct {
    buf: [*]u8,
    pos: usize = 0,

    fn byte(w: *Writer, b: u8) void {
        w.buf[w.pos] = b;
        w.pos += 1;
    }
    fn int32(w: *Writer, v: i32) void {
        const u: u32 = @bitCast(v);
        var i: u5 = 0;
        while (i < 4) : (i += 1) w.byte(@truncate(u >> (@as(u5, i) * 8)));
    }
    fn int64(w: *Writer, v: i64) void {
        const u: u64 = @bitCast(v);
        var i: u6 = 0;
        while (i < 8) : (i += 1) w.byte(@truncate(u >> (@as(u6, i) * 8)));
    }
    fn cstr(w: *Writer, s: []const u8) void {
        for (s) |c| w.byte(c);
        w.byte(0);
    }
    /// Starts a document; returns where its length goes.
    fn open(w: *Writer) usize {
        const at = w.pos;
        w.pos += 4;
        return at;
    }
    fn close(w: *Writer, at: usize) void {
        w.byte(0);
        const len: u32 = @intCast(w.pos - at);
        var i: u5 = 0;
        while (i < 4) : (i += 1) w.buf[at + i] = @truncate(len >> (@as(u5, i) * 8));
    }
    fn doc(w: *Writer, name: []const u8) usize {
        w.byte(0x03);
        w.cstr(name);
        return w.open();
    }
    fn string(w: *Writer, name: []const u8, s: []const u8) void {
        w.byte(0x02);
        w.cstr(name);
        w.int32(@intCast(s.len + 1));
        w.cstr(s);
    }
    fn long(w: *Writer, name: []const u8, v: i64) void {
        w.byte(0x12);
        w.cstr(name);
        w.int64(v);
    }
    fn int(w: *Writer, name: []const u8, v: i32) void {
        w.byte(0x10);
        w.cstr(name);
        w.int32(v);
    }
};

fn pack(ptr: u32, len: usize) i64 {
    return @bitCast((@as(u64, ptr) << 32) | @as(u64, @intCast(len)));
}

/// A response buffer, filled by `fill`.
fn respond(comptime fill: fn (*Writer) void) i64 {
    const ptr = forge_alloc(1024);
    var w = Writer{ .buf = @ptrFromInt(ptr) };
    fill(&w);
    return pack(ptr, w.pos);
}

// ---- a tiny BSON reader: enough to find ctx.op ----

fn readInt32(p: [*]const u8) i32 {
    const u: u32 = @as(u32, p[0]) | @as(u32, p[1]) << 8 | @as(u32, p[2]) << 16 | @as(u32, p[3]) << 24;
    return @bitCast(u);
}

fn readInt64(p: [*]const u8) i64 {
    var u: u64 = 0;
    var i: u6 = 0;
    while (i < 8) : (i += 1) u |= @as(u64, p[i]) << (i * 8);
    return @bitCast(u);
}

/// The value of element `name` of the document at `d` with type `kind`, or null.
fn find(d: [*]const u8, name: []const u8, kind: u8) ?[*]const u8 {
    const end: usize = @intCast(readInt32(d));
    var i: usize = 4;
    while (i < end - 1) {
        const t = d[i];
        i += 1;
        const key_start = i;
        while (d[i] != 0) i += 1;
        const key = d[key_start..i];
        i += 1;
        const value = d + i;
        if (t == kind and key.len == name.len) {
            var same = true;
            for (key, name) |a, b| same = same and a == b;
            if (same) return value;
        }
        i += switch (t) {
            0x01, 0x09, 0x11, 0x12 => 8,
            0x02 => 4 + @as(usize, @intCast(readInt32(value))),
            0x03, 0x04 => @as(usize, @intCast(readInt32(value))),
            0x05 => 5 + @as(usize, @intCast(readInt32(value))),
            0x07 => 12,
            0x08 => 1,
            0x0A => 0,
            0x10 => 4,
            0x13 => 16,
            else => return null,
        };
    }
    return null;
}

// ---- the contract ----

export fn forge_info() i64 {
    return respond(struct {
        fn f(w: *Writer) void {
            const d = w.open();
            w.string("name", "zig-touch");
            w.string("kind", "mutator");
            w.string("version", "0.2.0");
            w.string("contract", "0.2.0");
            w.close(d);
        }
    }.f);
}

export fn forge_init(ptr: u32, len: u32) i64 {
    _ = ptr;
    _ = len;
    return respond(struct {
        fn f(w: *Writer) void {
            const d = w.open();
            w.byte(0x0A); // ok: null
            w.cstr("ok");
            w.close(d);
        }
    }.f);
}

var op_index: i64 = 0;

export fn forge_mutate(ptr: u32, len: u32) i64 {
    _ = len;
    const request: [*]const u8 = @ptrFromInt(ptr);
    op_index = -1;
    if (find(request, "ctx", 0x03)) |ctx| {
        if (find(ctx, "op", 0x12)) |op| op_index = readInt64(op);
    }
    return respond(struct {
        fn f(w: *Writer) void {
            const d = w.open();
            const ok = w.doc("ok");
            const update = w.doc("update");
            const set = w.doc("$set");
            w.long("zig.op", op_index);
            w.long("zig.lucky", random_range(1, 6));
            w.close(set);
            const inc = w.doc("$inc");
            w.int("zig.edits", 1);
            w.close(inc);
            w.close(update);
            w.close(ok);
            w.close(d);
        }
    }.f);
}
