//! The peers a chaos run adds beside the real agencies: a second connection
//! for a live agency (it replaces the agency's own, which must reconnect and
//! resume) that resends one of its stored batches, with the same bets or
//! with other ones; and hostile peers (garbage frames, a slowloris sending
//! its handshake a byte at a time, a peer that connects and says nothing).
//!
//! The second connection speaks the protocol through `lottery-net`'s
//! blocking [`Connection`]; the hostile peers write raw bytes on a thread of
//! their own and end by themselves within seconds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use lottery_bet::{AgencyId, Bet};
use lottery_net::{AgencyMessage, CentralMessage, ClientConfig, Connection, WireBet};

use crate::synthetic::SplitMix64;

/// How long a second connection waits for the central's answers.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a second connection's resend came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resend {
    /// The batch number resent.
    pub batch: u64,
    /// Whether its bets were the stored ones.
    pub same_bets: bool,
    /// Whether the central acknowledged it.
    pub acked: bool,
    /// The central's answer, for the report.
    pub answer: String,
}

/// Opens a second connection for `agency` at `address` (over mutual TLS
/// with agency's certificate from `pki` when given) and resends one of
/// its stored batches (drawn from `rng`): `batch_bets(n)` gives batch `n`'s
/// bets as the agency sent them; with `same_bets` false, as many other
/// valid bets are sent under that number instead.
///
/// `Ok(None)` when there is nothing to resend yet (no batch stored, or the
/// agency finished).
///
/// # Errors
/// The connection or its handshake failed, or the answer never came.
pub fn resend_stored_batch(
    address: &str,
    agency: AgencyId,
    pki: Option<&Path>,
    same_bets: bool,
    rng: &mut SplitMix64,
    batch_bets: impl Fn(u64) -> Vec<Bet>,
) -> Result<Option<Resend>, String> {
    let mut config = ClientConfig::new(address.to_owned(), agency);
    config.connect_timeout = PROBE_TIMEOUT;
    config.io_timeout = Some(PROBE_TIMEOUT);
    if let Some(pki) = pki {
        let (cert, key) = (
            pki.join(format!("agency-{agency}.pem")),
            pki.join(format!("agency-{agency}.key")),
        );
        config.tls = Some(
            lottery_tls::ClientTls::load(&pki.join("ca.pem"), Some((&cert, &key)), None)
                .map_err(|error| format!("the TLS files of agency {agency}: {error}"))?,
        );
    }
    let (mut connection, resume) =
        Connection::open(&config).map_err(|error| format!("second connection: {error}"))?;
    if resume.last_batch == 0 || resume.finished {
        connection.close();
        return Ok(None);
    }
    let batch = rng.between(1, resume.last_batch);
    let stored = batch_bets(batch);
    let bets: Vec<WireBet> = if same_bets {
        stored.iter().map(WireBet::from_bet).collect()
    } else {
        stored
            .iter()
            .map(|_| WireBet::from_bet(&crate::synthetic::synthetic_bet(rng)))
            .collect()
    };
    connection
        .send(&AgencyMessage::Batch { batch, bets })
        .map_err(|error| format!("send the resend: {error}"))?;
    let answer = connection
        .receive()
        .map_err(|error| format!("the answer to the resend: {error}"))?;
    connection.close();
    let (acked, answer) = match answer {
        CentralMessage::Ack { batch, bets_stored } => (
            true,
            format!("Ack {{ batch: {batch}, bets_stored: {bets_stored} }}"),
        ),
        CentralMessage::Error(error) => (false, format!("{:?}: {}", error.code, error.message)),
        other => (false, format!("{other:?}")),
    };
    Ok(Some(Resend {
        batch,
        same_bets,
        acked,
        answer,
    }))
}

/// The kinds of hostile peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hostile {
    /// Random bytes, then reads until the central closes.
    Garbage,
    /// A valid `Hello`'s bytes one every 200 ms.
    Slowloris,
    /// Connects and says nothing.
    Silent,
}

impl Hostile {
    /// Its name in the fault log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Garbage => "garbage frames",
            Self::Slowloris => "slowloris handshake",
            Self::Silent => "silent peer",
        }
    }
}

/// Starts a hostile peer of `kind` against `address` on a thread of its own;
/// it gives up after `patience`. The central must close it (or ignore it)
/// without anyone else noticing: the invariants of the lottery say whether
/// someone did.
pub fn spawn_hostile(address: String, kind: Hostile, seed: u64, patience: Duration) {
    let _ = std::thread::Builder::new()
        .name("hostile-peer".into())
        .spawn(move || {
            let mut rng = SplitMix64::new(seed);
            let Ok(mut stream) = TcpStream::connect(&address) else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let deadline = Instant::now() + patience;
            match kind {
                Hostile::Garbage => {
                    let garbage: Vec<u8> = (0..rng.between(1, 4096))
                        .map(|_| rng.below(256) as u8)
                        .collect();
                    let _ = stream.write_all(&garbage);
                }
                Hostile::Slowloris => {
                    let mut hello = Vec::new();
                    let _ = lottery_net::encode_agency_message(
                        &AgencyMessage::Hello {
                            version: lottery_net::PROTOCOL_VERSION,
                            agency: 1,
                        },
                        lottery_net::DEFAULT_MAX_FRAME,
                        &mut hello,
                    );
                    for byte in hello {
                        if Instant::now() > deadline || stream.write_all(&[byte]).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
                Hostile::Silent => {}
            }
            // Reads until the central closes, or patience runs out.
            let mut buffer = [0u8; 1024];
            while Instant::now() < deadline {
                match stream.read(&mut buffer) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(error)
                        if matches!(
                            error.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        });
}
