//! EU VAT invoices: the rate table and the VAT engine, the document input, the drafting of
//! invoices and credit notes up to their number, the renderer and the tax ledger. Pure: no
//! HTTP and no store handle. Exchange rates are fetched by `crate::fx`, VIES asked by
//! `crate::vies`, and the store read by the command; their answers come in as values.

pub mod draft;
pub mod issue;
pub mod ledger;
pub mod rates;
pub mod refund;
pub mod render;
pub mod vat;
