//! Labels: the print file now; products, parcels and the make-labels flow next.

pub mod print;
pub mod products;
