//! The draw's announcement: a thread that `LISTEN`s on the schema's
//! channel and calls the central's announcement when a draw is recorded,
//! by this central or another. It connects again when the connection drops
//! (a database restart) and, each time it (re)connects, checks once whether
//! a draw was recorded while it was not listening.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lottery_core::ledger::DrawAnnouncement;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};

/// How often the thread looks at its stop flag, and waits before
/// connecting again.
const TICK: Duration = Duration::from_millis(200);

/// The channel a schema's draw is announced on (`pg_notify` in `commit`).
pub(crate) fn channel(client: &mut Client) -> Result<String, postgres::Error> {
    Ok(client
        .query_one("SELECT 'lottery_draw_' || current_schema()", &[])?
        .get(0))
}

/// Starts the listening thread; it ends soon after `stop` is set.
pub(crate) fn spawn(
    config: Config,
    channel: String,
    announce: DrawAnnouncement,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("lottery-pg-listen".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // A failed connection or a dropped one: try again.
                if let Ok(client) = config.connect(NoTls) {
                    listen(client, &channel, &announce, &stop);
                }
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
}

/// Listens on one connection until it fails or `stop` is set.
fn listen(mut client: Client, channel: &str, announce: &DrawAnnouncement, stop: &AtomicBool) {
    let quoted = channel.replace('"', "\"\"");
    if client
        .batch_execute(&format!("LISTEN \"{quoted}\""))
        .is_err()
    {
        return;
    }
    // A draw recorded before LISTEN took effect is announced too.
    match client.query_one("SELECT draw_bets IS NOT NULL FROM lottery", &[]) {
        Ok(row) if row.get::<_, bool>(0) => announce(),
        Ok(_) => {}
        Err(_) => return,
    }
    while !stop.load(Ordering::Relaxed) {
        let next = client.notifications().timeout_iter(TICK).next();
        match next {
            Ok(Some(_)) => announce(),
            Ok(None) => {}
            Err(_) => return,
        }
        if client.is_closed() {
            return;
        }
    }
}
