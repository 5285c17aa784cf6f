//! The course-format logger of the lottery's programs, and how they print an
//! error with its causes.
//!
//! Every line is `YYYY-MM-DD HH:MM:SS LEVEL    message`: the UTC time, the
//! level padded to 8 characters as Python's `%(levelname)-8s` pads it (so
//! `INFO    `, `WARNING `), one space, and the message. Messages themselves
//! follow `action: NAME | result: success|fail|in_progress | key: value`; the
//! callers write them with the `log` macros.
//!
//! The central (`lottery-server`) and the agency, demo and load-generator
//! programs all log through [`init`], so the whole workspace writes the
//! course's format one way. The crate holds no protocol and no lottery rules;
//! it depends on `log` alone.
//!
//! # Layers
//! - `level.rs`: level names as the course spells them ([`parse_level`],
//!   [`level_name`], [`filter_name`]).
//! - `logger.rs`: the process logger ([`init`]), the line format
//!   ([`format_line`]), the UTC date of a clock reading ([`utc_date`]) and an
//!   event loop's deferred lines ([`defer_lines`], [`write_deferred`]); reads
//!   `level.rs`.
//! - `chain.rs`: an error and its causes on one line ([`chain`]).
//!
//! # Example
//! ```
//! let level = lottery_log::parse_level("INFO")?;
//! lottery_log::init(level).expect("the first logger of the process");
//! let cause = std::io::Error::other("disk full");
//! log::error!("action: exit | result: fail | error: {}", lottery_log::chain(&cause));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod chain;
mod level;
mod logger;

pub use chain::chain;
pub use level::{filter_name, level_name, parse_level};
pub use logger::{defer_lines, format_line, init, utc_date, utc_today, write_deferred};
