//! Availability reports for an authority or a court (built in the next commit).

pub mod fmt;
pub mod settings;
