// c-stamp: a forge mutator written in C, built as a WebAssembly component against the
// forge:plugin WIT world `mutator-plugin` (bindings by `wit-bindgen c`).
//
// Each update sets one schema field, picked with forge's seeded random source, to a
// fresh value that forge generates from the schema, and stamps the op index:
//   {"$set": {<random field>: <fresh value>, "cStamp": <op index>}}

#include <stdlib.h>
#include <string.h>

#include "mutator_plugin.h"

// ---- a growable buffer and the few BSON elements we write ----

typedef struct {
    uint8_t *ptr;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->ptr = realloc(b->ptr, b->cap);
        if (!b->ptr) abort();
    }
    memcpy(b->ptr + b->len, data, n);
    b->len += n;
}

static void put_byte(buf_t *b, uint8_t v) { put(b, &v, 1); }

static void put_cstr(buf_t *b, const uint8_t *s, size_t n) {
    put(b, s, n);
    put_byte(b, 0);
}

/// Starts a document; returns where its length goes.
static size_t open_doc(buf_t *b) {
    size_t at = b->len;
    int32_t zero = 0;
    put(b, &zero, 4);
    return at;
}

static void close_doc(buf_t *b, size_t at) {
    put_byte(b, 0);
    int32_t len = (int32_t)(b->len - at);
    memcpy(b->ptr + at, &len, 4); // wasm is little-endian, as BSON is
}

/// The BSON element type byte of a WIT `bson-type` (the enum is in declaration order,
/// not in BSON's).
static uint8_t element_type(forge_plugin_types_bson_type_t kind) {
    static const uint8_t bytes[] = {
        [FORGE_PLUGIN_TYPES_BSON_TYPE_DOUBLE] = 0x01,     [FORGE_PLUGIN_TYPES_BSON_TYPE_STRING] = 0x02,
        [FORGE_PLUGIN_TYPES_BSON_TYPE_DOCUMENT] = 0x03,   [FORGE_PLUGIN_TYPES_BSON_TYPE_ARRAY] = 0x04,
        [FORGE_PLUGIN_TYPES_BSON_TYPE_BINARY] = 0x05,     [FORGE_PLUGIN_TYPES_BSON_TYPE_OBJECT_ID] = 0x07,
        [FORGE_PLUGIN_TYPES_BSON_TYPE_BOOLEAN] = 0x08,    [FORGE_PLUGIN_TYPES_BSON_TYPE_DATE_TIME] = 0x09,
        [FORGE_PLUGIN_TYPES_BSON_TYPE_NULL] = 0x0A,       [FORGE_PLUGIN_TYPES_BSON_TYPE_REGEX] = 0x0B,
        [FORGE_PLUGIN_TYPES_BSON_TYPE_INT32] = 0x10,      [FORGE_PLUGIN_TYPES_BSON_TYPE_TIMESTAMP] = 0x11,
        [FORGE_PLUGIN_TYPES_BSON_TYPE_INT64] = 0x12,      [FORGE_PLUGIN_TYPES_BSON_TYPE_DECIMAL128] = 0x13,
    };
    return kind < sizeof bytes ? bytes[kind] : 0;
}

static void set_string(mutator_plugin_string_t *s, const char *text) {
    s->len = strlen(text);
    s->ptr = malloc(s->len);
    memcpy(s->ptr, text, s->len);
}

// ---- the plugin's state: the schema's fields, listed once at init ----

static forge_plugin_host_list_field_t fields;

void exports_forge_plugin_mutator_info(exports_forge_plugin_mutator_plugin_info_t *ret) {
    set_string(&ret->name, "c-stamp");
    ret->kind = FORGE_PLUGIN_TYPES_PLUGIN_KIND_MUTATOR;
    set_string(&ret->version, "0.2.0");
    set_string(&ret->contract_version, "0.2.0");
    ret->deletes.is_some = false;
}

bool exports_forge_plugin_mutator_init(mutator_plugin_list_tuple2_string_string_t *config,
                                        mutator_plugin_string_t *schema,
                                        exports_forge_plugin_mutator_plugin_error_t *err) {
    mutator_plugin_list_tuple2_string_string_free(config);
    mutator_plugin_string_free(schema);
    forge_plugin_host_fields(&fields);
    if (fields.len == 0) {
        err->kind = FORGE_PLUGIN_TYPES_ERROR_KIND_INVALID_CONFIG;
        set_string(&err->message, "c-stamp needs a schema with at least one field besides _id");
        return false;
    }
    return true;
}

bool exports_forge_plugin_mutator_mutate(exports_forge_plugin_mutator_op_context_t *ctx,
                                          exports_forge_plugin_mutator_target_t *target,
                                          exports_forge_plugin_mutator_mutation_t *ret,
                                          exports_forge_plugin_mutator_plugin_error_t *err) {
    uint64_t op = ctx->op_index;
    exports_forge_plugin_mutator_op_context_free(ctx);
    exports_forge_plugin_mutator_target_free(target);

    forge_plugin_host_field_t *field = &fields.ptr[forge_plugin_host_random_below(fields.len)];
    forge_plugin_host_value_t value;
    mutator_plugin_string_t why;
    if (!forge_plugin_host_generate_field(&field->path, &value, &why)) {
        err->kind = FORGE_PLUGIN_TYPES_ERROR_KIND_INTERNAL;
        err->message = why;
        return false;
    }
    uint8_t type = element_type(value.kind);
    if (type == 0) {
        forge_plugin_host_value_free(&value);
        err->kind = FORGE_PLUGIN_TYPES_ERROR_KIND_INTERNAL;
        set_string(&err->message, "generate-field answered a value of no BSON type");
        return false;
    }

    buf_t b = {0};
    size_t doc = open_doc(&b);
    put_byte(&b, 0x03);
    put_cstr(&b, (const uint8_t *)"$set", 4);
    size_t set = open_doc(&b);
    // The value's element: its type byte, the field's path, the value's bytes.
    put_byte(&b, type);
    put_cstr(&b, field->path.ptr, field->path.len);
    put(&b, value.bytes.ptr, value.bytes.len);
    put_byte(&b, 0x12); // int64
    put_cstr(&b, (const uint8_t *)"cStamp", 6);
    int64_t stamp = (int64_t)op;
    put(&b, &stamp, 8);
    close_doc(&b, set);
    close_doc(&b, doc);
    forge_plugin_host_value_free(&value);

    ret->tag = FORGE_PLUGIN_TYPES_MUTATION_UPDATE;
    ret->val.update.ptr = b.ptr;
    ret->val.update.len = b.len;
    return true;
}
