//! Schemas shipped in the binary (also in `examples/` of the repository), so that
//! `forge generate` does something useful before a user has written a schema.

pub struct Example {
    pub name: &'static str,
    pub summary: &'static str,
    pub json: &'static str,
}

pub const CUSTOMERS: Example = Example {
    name: "customers",
    summary: "customer records, about 400 bytes each",
    json: include_str!("../../examples/customers.schema.json"),
};

pub const ORDERS: Example = Example {
    name: "orders",
    summary: "nested orders with items, payments and history, about 2 KB each",
    json: include_str!("../../examples/orders.schema.json"),
};

pub const ALL: &[Example] = &[CUSTOMERS, ORDERS];

/// An example by name, as in `--schema example:orders`.
pub fn find(name: &str) -> Option<&'static Example> {
    ALL.iter().find(|e| e.name == name)
}
