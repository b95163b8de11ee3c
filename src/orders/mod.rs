//! Orders as fulfil sees them, apart from how they are fetched or stored: the mapping
//! from Amazon's order to the store's rows and stages.

pub mod mapping;
