//! Integration tests: one binary, one file per command (see STYLE.md §7).

mod common;

mod audit;
mod doctor;
mod foundation;
mod make_invoices;
mod make_labels;
mod purge;
mod rates;
mod reliability;
mod sandbox_cli;
mod storage;
mod sync_orders;
mod tax_report;
mod transport;
