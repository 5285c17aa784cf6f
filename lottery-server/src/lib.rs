//! The lottery central as a library: a mio event-loop server over
//! [`lottery_core::Central`].

#![deny(missing_docs)]
