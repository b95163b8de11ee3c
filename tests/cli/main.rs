//! Integration tests: one binary, one file per command (see STYLE.md §7).

mod common;

mod addresses;
mod audit;
mod clocks;
mod completions;
mod confirm_shipments;
mod deadlines;
mod demo;
mod doctor;
mod forget_order;
mod foundation;
mod init;
mod make_invoices;
mod make_labels;
mod postcode_check;
mod print_desk;
mod purge;
mod rates;
mod refunds;
mod reliability;
mod review;
mod rotate_key;
mod sandbox_cli;
mod status;
mod storage;
mod sync_orders;
mod tax_report;
mod time_limits;
mod transport;
mod trust;
mod vies;
