//! EU VAT invoices: the rate table and the VAT engine (pure functions), later the
//! numbering, rendering and upload.

pub mod rates;
pub mod render;
pub mod vat;
