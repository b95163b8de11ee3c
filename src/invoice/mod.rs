//! EU VAT invoices: the rate table and the VAT engine, the renderer, the document input and
//! the tax ledger. Pure: no HTTP and no store. Exchange rates are fetched by `crate::fx`,
//! EU services asked by their own clients; their answers come in as values.

pub mod issue;
pub mod ledger;
pub mod rates;
pub mod render;
pub mod vat;
