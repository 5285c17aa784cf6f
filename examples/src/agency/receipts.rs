//! The agency's receipts file (`lottery-agency --receipts FILE`): every
//! receipt the agency checked, one JSON line each, appended (the line's
//! format is `lottery_tls::Receipt::to_json_line`'s, documented in
//! lottery-core/STORE.md, "Receipts"). `lottery-admin verify --receipts`
//! reads it.
//!
//! Each line is written with one `write` call on a file opened for
//! appending and synced, so a killed agency leaves at most a torn last
//! line (which verify reports), and a receipt the agency logged as kept is
//! on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use lottery_tls::Receipt;

/// An open receipts file.
#[derive(Debug)]
pub struct ReceiptsFile {
    file: File,
}

impl ReceiptsFile {
    /// Opens `path` for appending (created if missing).
    ///
    /// # Errors
    /// When it cannot be opened.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file })
    }

    /// Appends `receipt` as one line, durably.
    ///
    /// # Errors
    /// When it cannot be written or synced.
    pub fn append(&mut self, receipt: &Receipt) -> io::Result<()> {
        self.file.write_all(receipt.to_json_line().as_bytes())?;
        self.file.sync_data()
    }
}
