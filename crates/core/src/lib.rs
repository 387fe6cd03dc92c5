//! The vocabulary of phiscan's output contract.
//!
//! Every stage speaks these types: the detector tags findings with a [`Category`],
//! extractors place them with a [`Locator`] and end each item in a [`Coverage`]
//! state, the classifier gives the item a [`Class`], and the report and store
//! stages write the [`records`]. Keeping them in one small crate means the
//! contract documented in `docs/output.md` lives in one place, and a crate that
//! only needs the words does not pull in parsers or databases.

pub mod blocks;
pub mod cache;
pub mod category;
pub mod coverage;
pub mod json;
pub mod location;
pub mod locator;
pub mod records;

pub use category::{Category, Role};
pub use coverage::{Class, Coverage};
pub use locator::Locator;
