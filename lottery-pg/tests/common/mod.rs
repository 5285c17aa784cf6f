//! What the PostgreSQL tests share: the server's URL from
//! `LOTTERY_TEST_POSTGRES` (a test without it says it is skipped, and why),
//! and a fresh schema per test or proptest case, dropped afterwards.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use postgres::{Client, NoTls};

/// The server's URL, or `None` (having said so) when the variable is unset.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("LOTTERY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED {test}: LOTTERY_TEST_POSTGRES is not set (start a server with \
                 `eval \"$(scripts/pg-test-cluster.sh start)\"`; .ci/run always sets it)"
            );
            None
        }
    }
}

/// A schema of its own, dropped with everything in it when this is dropped.
pub struct Schema {
    admin: Client,
    name: String,
    url: String,
}

impl Schema {
    /// Creates a new, empty schema on the server at `base`.
    pub fn new(base: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Client::connect(base, NoTls).expect("the test server answers");
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .expect("a schema is created");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Self { admin, name, url }
    }

    /// The URL whose connections use this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A plain client on the schema.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("the test server answers")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}
