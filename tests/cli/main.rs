//! Integration tests: one binary, one file per command (see STYLE.md §7).

mod common;

mod audit;
mod clocks;
mod confirm_shipments;
mod doctor;
mod foundation;
mod make_invoices;
mod make_labels;
mod purge;
mod rates;
mod rates_horizon;
mod reliability;
mod review;
mod sandbox_cli;
mod storage;
mod sync_orders;
mod tax_report;
mod time_limits;
mod transport;
mod trust;
mod vies;
