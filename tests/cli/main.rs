//! Integration tests: one binary, one file per command (see STYLE.md §7).

mod common;

mod foundation;
mod make_invoices;
mod make_labels;
mod purge;
mod reliability;
mod sandbox_cli;
mod sync_orders;
mod tax_report;
