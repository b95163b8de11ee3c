//! The make-labels flow, step by step, so that the command only orders the steps:
//! [`plan`] (which ready orders get a label now, their address, product and weight, and
//! why the others go to review), [`batch`] (barcodes committed before the label call,
//! then PostNL's labels four at a time), [`print_file`] (the file the labels are printed
//! from: its name, reservation and writing, or a print command) with
//! [`print`](mod@print) (the merging of the label PDFs), and [`confirm`]
//! (confirmShipment per parcel, also for `fulfil confirm-shipments`). [`products`]
//! chooses the PostNL product; [`parcels`] splits an order into several parcels;
//! [`pick_list`] lists what to pack for a print file; [`client`] makes the run's one
//! PostNL client; [`postcode`] asks PostNL's postcode register which reading of a Dutch
//! address exists.

pub mod batch;
pub mod client;
pub mod confirm;
pub mod parcels;
pub mod pick_list;
pub mod plan;
pub mod postcode;
pub mod print;
pub mod print_file;
pub mod products;

/// The command the label flow records its issues under (and opens the store for):
/// `fulfil review` finds and clears them by it.
pub const COMMAND: &str = "make-labels";

/// What a make-labels (or confirm-shipments) run did, for its outcome.
#[derive(Debug, Default)]
pub struct Counts {
    pub labelled: u64,
    pub to_review: u64,
    pub failed: u64,
    pub confirmed: u64,
    pub confirm_failed: u64,
    /// Orders labelled as a multi-collo group of several parcels (issue #19).
    pub multi_collo: u64,
    /// Parcels labelled (an order of several parcels counts each).
    pub parcels: u64,
    /// Ready orders whose label-printing window (Amazon's `labelPrintingWindow`) has not
    /// opened yet: they wait for a later run, they do not go to review (issue #23).
    pub waiting: u64,
}
