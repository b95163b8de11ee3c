//! EU VAT invoices: the rate table and the VAT engine (pure functions), the renderer, and
//! for `fulfil make-invoices` the document input, the tax ledger and exchange rates.

pub mod fx;
pub mod issue;
pub mod ledger;
pub mod rates;
pub mod render;
pub mod vat;
