//! Receipts: the central's Ed25519 signature over the head of its store's
//! checksum chain, and what an agency keeps of an acknowledgement.
//!
//! The central signs a [`ChainStatement`] (the lottery's rules, with a
//! committed winning number's commitment, the chain's length and its head
//! link, behind a domain-separation prefix) once per
//! group of acknowledgements, never once per bet; every `Ack` and
//! `Finished` of a receipts session carries the signed head that covers it
//! ([`SignedHead`]), and its `Welcome` the head as it stood at the
//! handshake (so the rules, a committed number's commitment among them,
//! are signed before the agency's first bet). An agency checks the signature against the central's
//! public key ([`ReceiptPubkey`]) and keeps a [`Receipt`] per answer, one
//! JSON line each ([`Receipt::to_json_line`]); `lottery-admin verify
//! --receipts` reads them back ([`Receipt::from_json_line`]) and checks them
//! against the store. The byte layout of what is signed and the JSON form
//! live here only.
//!
//! Keys are PEM files: the private key PKCS#8 (`PRIVATE KEY`, as
//! `openssl genpkey -algorithm ed25519` writes it), the public key
//! SubjectPublicKeyInfo (`PUBLIC KEY`, `openssl pkey -pubout`).
//! [`generate_receipt_keys`] makes a pair, `write_receipt_keys` (in the
//! generator) writes one to a directory.
//!
//! ```
//! use lottery_tls::{ChainStatement, ReceiptKey, WinningRule, generate_receipt_keys};
//! let (private_pem, public_pem) = generate_receipt_keys()?;
//! let key = ReceiptKey::from_pem(private_pem.as_bytes(), "receipt key")?;
//! let pubkey = lottery_tls::ReceiptPubkey::from_pem(public_pem.as_bytes(), "receipt public key")?;
//! let head = key.sign(ChainStatement {
//!     agencies: 5,
//!     winning: WinningRule::Fixed(7574),
//!     position: 3,
//!     chain: [7; 32],
//! });
//! assert!(pubkey.verify(&head).is_ok());
//! let mut forged = head;
//! forged.statement.position = 4;
//! assert!(pubkey.verify(&forged).is_err());
//! # Ok::<(), lottery_tls::TlsError>(())
//! ```

use std::path::{Path, PathBuf};

use lottery_bet::{AgencyId, BatchDigest};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};

use crate::error::TlsError;

/// What every signed statement begins with: a signature made for receipts
/// can never be taken for one over anything else (and a later layout gets
/// another prefix).
pub const RECEIPT_DOMAIN: &[u8] = b"lottery receipt: chain head v1\n";

/// What a signed draw's bytes begin with (see [`RECEIPT_DOMAIN`]).
pub const DRAW_DOMAIN: &[u8] = b"lottery receipt: draw v1\n";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the key's
/// 32 bytes follow it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// How the signed lottery's winning number is chosen (its rules'
/// `winning`, as the central signs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WinningRule {
    /// This number wins, known from the start.
    Fixed(u16),
    /// The number is derived at the draw from a secret whose commitment
    /// (SHA-256 of the secret) this is: signed in every receipt, the
    /// welcome's first, so an agency holds the commitment before it sends
    /// a bet and before the draw reveals the secret.
    Committed([u8; 32]),
}

impl WinningRule {
    /// A committed number's commitment in lowercase hex, as receipts and
    /// log lines write it (`None` for a fixed number).
    pub fn commitment_hex(&self) -> Option<String> {
        match self {
            Self::Fixed(_) => None,
            Self::Committed(commitment) => Some(hex(commitment)),
        }
    }

    /// How many bytes [`WinningRule::put`] appends.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Fixed(_) => 1 + 2,
            Self::Committed(commitment) => 1 + commitment.len(),
        }
    }

    /// Appends its bytes, as signed and as sent (the one place of their
    /// layout): a kind byte, then for [`WinningRule::Fixed`] (kind 0) the
    /// number (2 bytes, big-endian), for [`WinningRule::Committed`] (kind 1)
    /// the commitment (32 bytes).
    pub fn put(&self, bytes: &mut Vec<u8>) {
        match self {
            Self::Fixed(number) => {
                bytes.push(0);
                bytes.extend_from_slice(&number.to_be_bytes());
            }
            Self::Committed(commitment) => {
                bytes.push(1);
                bytes.extend_from_slice(commitment);
            }
        }
    }
}

/// What the central signs: the lottery's rules and a prefix of its store's
/// checksum chain (its length and the link of its last record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainStatement {
    /// Agencies the lottery expects (the store's `rules`).
    pub agencies: u32,
    /// How its winning number is chosen.
    pub winning: WinningRule,
    /// Records in the chain up to the head (the first record is 1).
    pub position: u64,
    /// The head record's SHA-256 link.
    pub chain: [u8; 32],
}

impl ChainStatement {
    /// The bytes signed: [`RECEIPT_DOMAIN`], then `agencies` (4 bytes,
    /// big-endian), `winning` (a kind byte, then the number's 2 bytes or
    /// the commitment's 32: [`WinningRule`]), `position` (8, big-endian),
    /// then `chain` (32).
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(RECEIPT_DOMAIN.len() + 77);
        bytes.extend_from_slice(RECEIPT_DOMAIN);
        bytes.extend_from_slice(&self.agencies.to_be_bytes());
        self.winning.put(&mut bytes);
        bytes.extend_from_slice(&self.position.to_be_bytes());
        bytes.extend_from_slice(&self.chain);
        bytes
    }
}

/// The draw as the central signs it: the chain it covered (every record of
/// the lottery), the number that won (and with a committed one, the
/// secret it came from), the bets it counted and a digest of the winners
/// per agency ([`winners_digest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawStatement {
    /// The chain at the draw: rules, position (every record) and head.
    pub chain: ChainStatement,
    /// The number that won: the fixed one, or the one the secret and the
    /// chain's head give.
    pub winning_number: u16,
    /// With a committed winning number ([`WinningRule::Committed`]): the
    /// secret, revealed (`None` under a fixed one).
    pub secret: Option<[u8; 32]>,
    /// Bets the draw counted.
    pub bets: u64,
    /// [`winners_digest`] of the winners per agency.
    pub winners: [u8; 32],
}

impl DrawStatement {
    /// The bytes signed: [`DRAW_DOMAIN`], the chain statement's fields as
    /// [`ChainStatement::signed_bytes`] lays them out after its domain, then
    /// `bets` (8 bytes, big-endian), `winners` (32), `winning_number` (2,
    /// big-endian) and the secret: a byte 0 without one, or 1 and its 32
    /// bytes.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let chain = self.chain.signed_bytes();
        let mut bytes = Vec::with_capacity(DRAW_DOMAIN.len() + 150);
        bytes.extend_from_slice(DRAW_DOMAIN);
        bytes.extend_from_slice(&chain[RECEIPT_DOMAIN.len()..]);
        bytes.extend_from_slice(&self.bets.to_be_bytes());
        bytes.extend_from_slice(&self.winners);
        bytes.extend_from_slice(&self.winning_number.to_be_bytes());
        match &self.secret {
            None => bytes.push(0),
            Some(secret) => {
                bytes.push(1);
                bytes.extend_from_slice(secret);
            }
        }
        bytes
    }

    /// Whether what the draw reveals is what its chain statement's rules
    /// promised: under a fixed number, that number and no secret; under a
    /// committed one, a secret whose SHA-256 is the commitment. (That the
    /// number is the one the secret and the chain's head give is the
    /// lottery's derivation, `lottery_core::DrawSecret::winning_number`,
    /// which `lottery-admin verify --receipts` checks.)
    ///
    /// # Errors
    /// What does not match, in words.
    pub fn check_reveal(&self) -> Result<(), String> {
        match (self.chain.winning, self.secret) {
            (WinningRule::Fixed(number), None) if number == self.winning_number => Ok(()),
            (WinningRule::Fixed(number), None) => Err(format!(
                "it names winning number {}, its rules fix {number}",
                self.winning_number
            )),
            (WinningRule::Fixed(_), Some(_)) => {
                Err("it reveals a secret, its rules fix the winning number".to_owned())
            }
            (WinningRule::Committed(_), None) => {
                Err("its rules commit to a secret, it reveals none".to_owned())
            }
            (WinningRule::Committed(commitment), Some(secret)) => {
                if sha256(&secret) == commitment {
                    Ok(())
                } else {
                    Err(format!(
                        "the secret it reveals is not the committed one (its SHA-256 is not {})",
                        hex(&commitment)
                    ))
                }
            }
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut digest = [0; 32];
    digest.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    digest
}

/// SHA-256 of the winners per agency (agency 1 first), each 8 bytes
/// big-endian: what a signed draw names them by (a list of up to a million
/// agencies does not fit a frame; its digest does).
pub fn winners_digest(winners_per_agency: &[u64]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for winners in winners_per_agency {
        context.update(&winners.to_be_bytes());
    }
    let mut digest = [0; 32];
    digest.copy_from_slice(context.finish().as_ref());
    digest
}

/// A [`ChainStatement`] with the central's Ed25519 signature over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedHead {
    /// What was signed.
    pub statement: ChainStatement,
    /// The signature over [`ChainStatement::signed_bytes`].
    pub signature: [u8; 64],
}

/// The central's signing key (Ed25519).
pub struct ReceiptKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("ReceiptKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl ReceiptKey {
    /// The key in the PKCS#8 PEM file at `path`.
    ///
    /// # Errors
    /// [`TlsError::Read`]; [`TlsError::Pem`] when it holds no PKCS#8
    /// `PRIVATE KEY`, or one that is not Ed25519.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        let what = "receipt key";
        let bytes = read(path, what)?;
        Self::from_pem(&bytes, what).map_err(|error| at_path(error, path))
    }

    /// The key in PKCS#8 PEM `pem`.
    ///
    /// # Errors
    /// [`TlsError::Pem`] (with an empty path) as [`ReceiptKey::load`].
    pub fn from_pem(pem: &[u8], what: &'static str) -> Result<Self, TlsError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem)
            .map_err(|error| pem_error(what, format!("no PKCS#8 PRIVATE KEY ({error})")))?;
        // `maybe_unchecked`: openssl writes PKCS#8 v1 (no public key in it).
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
            .map_err(|error| pem_error(what, format!("no Ed25519 key ({error})")))?;
        Ok(Self { pair })
    }

    /// Signs `statement`.
    pub fn sign(&self, statement: ChainStatement) -> SignedHead {
        let signature = self.pair.sign(&statement.signed_bytes());
        let mut bytes = [0; 64];
        bytes.copy_from_slice(signature.as_ref());
        SignedHead {
            statement,
            signature: bytes,
        }
    }

    /// Signs `statement`: the head it carries is the draw's chain, and the
    /// signature is over [`DrawStatement::signed_bytes`].
    pub fn sign_draw(&self, statement: DrawStatement) -> SignedHead {
        let signature = self.pair.sign(&statement.signed_bytes());
        let mut bytes = [0; 64];
        bytes.copy_from_slice(signature.as_ref());
        SignedHead {
            statement: statement.chain,
            signature: bytes,
        }
    }

    /// The public half, which agencies and auditors are given.
    pub fn public_key(&self) -> ReceiptPubkey {
        let mut key = [0; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        ReceiptPubkey { key }
    }
}

/// The central's public key: what checks a [`SignedHead`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReceiptPubkey {
    key: [u8; 32],
}

impl std::fmt::Debug for ReceiptPubkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiptPubkey({self})")
    }
}

impl std::fmt::Display for ReceiptPubkey {
    /// The key's 32 bytes in lowercase hex (what the central logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.key))
    }
}

/// A signed head whose signature does not verify under the key given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the signature of the chain head at position {position} does not verify under the central's public key"
)]
pub struct BadSignature {
    /// The position the head claims.
    pub position: u64,
}

impl ReceiptPubkey {
    /// The key in the SubjectPublicKeyInfo PEM file at `path`.
    ///
    /// # Errors
    /// [`TlsError::Read`]; [`TlsError::Pem`] when it holds no `PUBLIC KEY`,
    /// or one that is not Ed25519.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        let what = "receipt public key";
        let bytes = read(path, what)?;
        Self::from_pem(&bytes, what).map_err(|error| at_path(error, path))
    }

    /// The key in SubjectPublicKeyInfo PEM `pem`.
    ///
    /// # Errors
    /// [`TlsError::Pem`] (with an empty path) as [`ReceiptPubkey::load`].
    pub fn from_pem(pem: &[u8], what: &'static str) -> Result<Self, TlsError> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|error| pem_error(what, format!("no PUBLIC KEY ({error})")))?;
        let bytes: &[u8] = der.as_ref();
        let key = bytes
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .and_then(|key| <[u8; 32]>::try_from(key).ok())
            .ok_or_else(|| pem_error(what, "a PUBLIC KEY that is not Ed25519".to_owned()))?;
        Ok(Self { key })
    }

    /// Checks `receipt`'s signature: over its head, or for a draw receipt
    /// over the [`DrawStatement`] its fields make.
    ///
    /// # Errors
    /// [`BadSignature`] as [`ReceiptPubkey::verify`].
    pub fn verify_receipt(&self, receipt: &Receipt) -> Result<(), BadSignature> {
        match receipt.draw_statement() {
            Some(statement) => UnparsedPublicKey::new(&ED25519, self.key)
                .verify(&statement.signed_bytes(), &receipt.head.signature)
                .map_err(|_| BadSignature {
                    position: statement.chain.position,
                }),
            None => self.verify(&receipt.head),
        }
    }

    /// Checks `head`'s signature.
    ///
    /// # Errors
    /// [`BadSignature`] when it was not made by this key's private half
    /// over exactly this statement.
    pub fn verify(&self, head: &SignedHead) -> Result<(), BadSignature> {
        UnparsedPublicKey::new(&ED25519, self.key)
            .verify(&head.statement.signed_bytes(), &head.signature)
            .map_err(|_| BadSignature {
                position: head.statement.position,
            })
    }
}

/// What a receipt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptSubject {
    /// The handshake (`SignedWelcome`): the head is the chain as it stood
    /// then (position 0 on a store without records), and its rules are
    /// the ones every later receipt of the session must name.
    Welcome {
        /// Bets the welcome said were stored for the agency (what it
        /// resumed from; the signature covers the head, not this count).
        bets: u64,
    },
    /// Batch number `batch`, whose store rows have `digest`.
    Batch {
        /// The batch's number.
        batch: u64,
        /// Its rows' CRC32C, length and bet count.
        digest: BatchDigest,
    },
    /// The agency's finish, with `bets` bets stored.
    Finish {
        /// Bets stored for the agency.
        bets: u64,
    },
    /// The draw (every agency gets the same): the head is the chain it
    /// covered, and the signature is over the [`DrawStatement`].
    Draw {
        /// Bets the draw counted.
        bets: u64,
        /// [`winners_digest`] of the winners per agency.
        winners: [u8; 32],
        /// The number that won.
        winning_number: u16,
        /// With a committed winning number: the secret, revealed.
        secret: Option<[u8; 32]>,
    },
}

/// What an agency keeps of one acknowledgement: whose, of what, and the
/// signed head that covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The agency.
    pub agency: AgencyId,
    /// The batch or finish acknowledged.
    pub subject: ReceiptSubject,
    /// The central's signed chain head covering it.
    pub head: SignedHead,
}

impl Receipt {
    /// For a draw receipt: the [`DrawStatement`] its signature is over
    /// (`None` for any other).
    pub fn draw_statement(&self) -> Option<DrawStatement> {
        match self.subject {
            ReceiptSubject::Draw {
                bets,
                winners,
                winning_number,
                secret,
            } => Some(DrawStatement {
                chain: self.head.statement,
                winning_number,
                secret,
                bets,
                winners,
            }),
            _ => None,
        }
    }
}

/// A receipts file's line: the JSON form of a [`Receipt`] (documented in
/// lottery-core/STORE.md, "Receipts").
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptLine {
    receipt: String,
    agency: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<u64>,
    bets: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows_crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    winners: Option<String>,
    /// A draw's: the number that won.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drawn_number: Option<u16>,
    /// A committed draw's: the secret, revealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    agencies: u32,
    /// The rules' fixed winning number (or else `commitment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    winning_number: Option<u16>,
    /// The rules' commitment to a committed winning number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commitment: Option<String>,
    position: u64,
    chain: String,
    signature: String,
}

impl Receipt {
    /// The receipt as one line of JSON, with its line end.
    pub fn to_json_line(&self) -> String {
        let (receipt, batch, bets, rows_bytes, rows_crc32c) = match self.subject {
            ReceiptSubject::Batch { batch, digest } => (
                "batch",
                Some(batch),
                digest.bets(),
                Some(digest.rows_len()),
                Some(format!("{:08x}", digest.rows_crc())),
            ),
            ReceiptSubject::Welcome { bets } => ("welcome", None, bets, None, None),
            ReceiptSubject::Finish { bets } => ("finish", None, bets, None, None),
            ReceiptSubject::Draw { bets, .. } => ("draw", None, bets, None, None),
        };
        let (winners, drawn_number, secret) = match self.subject {
            ReceiptSubject::Draw {
                winners,
                winning_number,
                secret,
                ..
            } => (
                Some(hex(&winners)),
                Some(winning_number),
                secret.map(|secret| hex(&secret)),
            ),
            _ => (None, None, None),
        };
        let statement = &self.head.statement;
        let (winning_number, commitment) = match statement.winning {
            WinningRule::Fixed(number) => (Some(number), None),
            WinningRule::Committed(commitment) => (None, Some(hex(&commitment))),
        };
        let line = ReceiptLine {
            receipt: receipt.to_owned(),
            agency: self.agency.get(),
            batch,
            bets,
            rows_bytes,
            rows_crc32c,
            winners,
            drawn_number,
            secret,
            agencies: statement.agencies,
            winning_number,
            commitment,
            position: statement.position,
            chain: hex(&statement.chain),
            signature: hex(&self.head.signature),
        };
        let mut text = serde_json::to_string(&line).expect("a receipt always serializes");
        text.push('\n');
        text
    }

    /// The receipt a line of a receipts file holds.
    ///
    /// # Errors
    /// A message saying what is wrong with it.
    pub fn from_json_line(line: &str) -> Result<Self, String> {
        let line: ReceiptLine =
            serde_json::from_str(line).map_err(|error| format!("not a receipt: {error}"))?;
        let agency = AgencyId::new(line.agency).map_err(|error| error.to_string())?;
        let subject = match (line.receipt.as_str(), line.batch, line.rows_bytes) {
            ("welcome" | "batch" | "finish", ..)
                if line.winners.is_some()
                    || line.drawn_number.is_some()
                    || line.secret.is_some() =>
            {
                return Err(format!(
                    "a {} receipt with a draw's fields (winners, drawn_number, secret)",
                    line.receipt
                ));
            }
            ("batch", Some(batch), Some(rows_bytes)) => {
                let crc = line
                    .rows_crc32c
                    .as_deref()
                    .and_then(|text| u32::from_str_radix(text, 16).ok())
                    .ok_or("a batch receipt without a rows_crc32c of 8 hex digits")?;
                ReceiptSubject::Batch {
                    batch,
                    digest: BatchDigest::from_parts(crc, rows_bytes, line.bets),
                }
            }
            ("welcome", None, None) => ReceiptSubject::Welcome { bets: line.bets },
            ("finish", None, None) => ReceiptSubject::Finish { bets: line.bets },
            ("draw", None, None) => {
                let winners = line
                    .winners
                    .as_deref()
                    .and_then(from_hex::<32>)
                    .ok_or("a draw receipt without winners of 64 hex digits")?;
                let winning_number = line
                    .drawn_number
                    .ok_or("a draw receipt without its drawn_number")?;
                let secret = line
                    .secret
                    .as_deref()
                    .map(|text| from_hex::<32>(text).ok_or("a secret that is not 64 hex digits"))
                    .transpose()?;
                ReceiptSubject::Draw {
                    bets: line.bets,
                    winners,
                    winning_number,
                    secret,
                }
            }
            (other, ..) => {
                return Err(format!(
                    "a receipt of kind `{other}` (batch receipts name batch, rows_bytes and rows_crc32c; welcome and finish receipts none of them; draw receipts winners and drawn_number)"
                ));
            }
        };
        let winning = match (line.winning_number, line.commitment.as_deref()) {
            (Some(number), None) => WinningRule::Fixed(number),
            (None, Some(text)) => WinningRule::Committed(
                from_hex::<32>(text).ok_or("a commitment that is not 64 hex digits")?,
            ),
            _ => {
                return Err(
                    "a receipt names its rules' winning_number or their commitment, exactly one"
                        .to_owned(),
                );
            }
        };
        let chain = from_hex::<32>(&line.chain).ok_or("a chain that is not 64 hex digits")?;
        let signature =
            from_hex::<64>(&line.signature).ok_or("a signature that is not 128 hex digits")?;
        Ok(Self {
            agency,
            subject,
            head: SignedHead {
                statement: ChainStatement {
                    agencies: line.agencies,
                    winning,
                    position: line.position,
                    chain,
                },
                signature,
            },
        })
    }
}

/// A new key pair: the private key as PKCS#8 PEM, the public key as
/// SubjectPublicKeyInfo PEM.
///
/// # Errors
/// [`TlsError::Generate`] when the system's random source fails.
pub fn generate_receipt_keys() -> Result<(String, String), TlsError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|source| {
        TlsError::Generate {
            what: "the receipt key".to_owned(),
            source,
        }
    })?;
    Ok((pair.serialize_pem(), pair.public_key_pem()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        if pair
            .bytes()
            .any(|b| b.is_ascii_uppercase() || !b.is_ascii_hexdigit())
        {
            return None;
        }
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(what: &'static str, problem: String) -> TlsError {
    TlsError::Pem {
        what,
        path: PathBuf::new(),
        problem,
    }
}

fn at_path(error: TlsError, path: &Path) -> TlsError {
    match error {
        TlsError::Pem { what, problem, .. } => TlsError::Pem {
            what,
            path: path.to_owned(),
            problem,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::write_receipt_keys;

    fn pair() -> (ReceiptKey, ReceiptPubkey) {
        let (private, public) = generate_receipt_keys().unwrap();
        (
            ReceiptKey::from_pem(private.as_bytes(), "key").unwrap(),
            ReceiptPubkey::from_pem(public.as_bytes(), "pubkey").unwrap(),
        )
    }

    fn statement() -> ChainStatement {
        ChainStatement {
            agencies: 5,
            winning: WinningRule::Fixed(7574),
            position: 42,
            chain: [0xab; 32],
        }
    }

    /// A committed lottery's statement, and the secret it commits to.
    fn committed_statement() -> (ChainStatement, [u8; 32]) {
        let secret = [0x5c; 32];
        let statement = ChainStatement {
            winning: WinningRule::Committed(sha256(&secret)),
            ..statement()
        };
        (statement, secret)
    }

    #[test]
    fn a_signed_head_verifies_under_its_own_key_only() {
        let (key, pubkey) = pair();
        let (_, other) = pair();
        let head = key.sign(statement());
        assert_eq!(key.public_key(), pubkey);
        assert!(pubkey.verify(&head).is_ok());
        assert_eq!(other.verify(&head), Err(BadSignature { position: 42 }));
    }

    #[test]
    fn every_field_of_the_statement_is_signed() {
        let (key, pubkey) = pair();
        let head = key.sign(statement());
        let edits: [fn(&mut ChainStatement); 5] = [
            |s| s.agencies = 4,
            |s| s.winning = WinningRule::Fixed(1033),
            |s| s.winning = WinningRule::Committed([0; 32]),
            |s| s.position = 41,
            |s| s.chain[31] ^= 1,
        ];
        for edit in edits {
            let mut forged = head;
            edit(&mut forged.statement);
            assert!(pubkey.verify(&forged).is_err(), "{forged:?}");
        }
    }

    #[test]
    fn a_signed_draw_verifies_as_a_draw_only_and_covers_its_winners() {
        let (key, pubkey) = pair();
        let statement = DrawStatement {
            chain: statement(),
            winning_number: 7574,
            secret: None,
            bets: 9,
            winners: winners_digest(&[2, 3, 3, 2, 0]),
        };
        let agency = AgencyId::new(1).unwrap();
        let draw = Receipt {
            agency,
            subject: ReceiptSubject::Draw {
                bets: 9,
                winners: statement.winners,
                winning_number: 7574,
                secret: None,
            },
            head: key.sign_draw(statement),
        };
        assert!(pubkey.verify_receipt(&draw).is_ok());
        assert_eq!(draw.draw_statement(), Some(statement));
        assert!(
            pubkey.verify(&draw.head).is_err(),
            "a draw's signature is no head's"
        );
        let edits: [fn(&mut ReceiptSubject); 3] = [
            |s| {
                if let ReceiptSubject::Draw { winners, .. } = s {
                    *winners = winners_digest(&[3, 3, 3, 2, 0]);
                }
            },
            |s| {
                if let ReceiptSubject::Draw { winning_number, .. } = s {
                    *winning_number = 1033;
                }
            },
            |s| {
                if let ReceiptSubject::Draw { secret, .. } = s {
                    *secret = Some([0; 32]);
                }
            },
        ];
        for edit in edits {
            let mut other = draw;
            edit(&mut other.subject);
            assert!(pubkey.verify_receipt(&other).is_err(), "{other:?}");
        }
        assert_ne!(winners_digest(&[1, 0]), winners_digest(&[0, 1]));
    }

    #[test]
    fn a_draw_reveals_what_its_rules_promised_and_nothing_else() {
        let fixed = DrawStatement {
            chain: statement(),
            winning_number: 7574,
            secret: None,
            bets: 9,
            winners: [0; 32],
        };
        assert_eq!(fixed.check_reveal(), Ok(()));
        for wrong in [
            DrawStatement {
                winning_number: 1033,
                ..fixed
            },
            DrawStatement {
                secret: Some([1; 32]),
                ..fixed
            },
        ] {
            assert!(wrong.check_reveal().is_err(), "{wrong:?}");
        }
        let (chain, secret) = committed_statement();
        let committed = DrawStatement {
            chain,
            winning_number: 1033,
            secret: Some(secret),
            ..fixed
        };
        assert_eq!(committed.check_reveal(), Ok(()));
        for wrong in [
            DrawStatement {
                secret: None,
                ..committed
            },
            DrawStatement {
                secret: Some([0x5d; 32]),
                ..committed
            },
        ] {
            assert!(wrong.check_reveal().is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn a_receipt_survives_its_json_line_and_a_changed_line_is_refused() {
        let (key, _) = pair();
        let agency = AgencyId::new(3).unwrap();
        let (committed, secret) = committed_statement();
        for (subject, statement) in [
            (
                ReceiptSubject::Batch {
                    batch: 7,
                    digest: BatchDigest::from_parts(0x8a9b_3c01, 12_345, 150),
                },
                statement(),
            ),
            (ReceiptSubject::Finish { bets: 700 }, statement()),
            (
                ReceiptSubject::Welcome { bets: 0 },
                ChainStatement {
                    position: 0,
                    ..committed
                },
            ),
            (ReceiptSubject::Welcome { bets: 300 }, statement()),
            (ReceiptSubject::Finish { bets: 700 }, committed),
            (
                ReceiptSubject::Draw {
                    bets: 2_100,
                    winners: winners_digest(&[2, 3, 3]),
                    winning_number: 7574,
                    secret: None,
                },
                statement(),
            ),
            (
                ReceiptSubject::Draw {
                    bets: 2_100,
                    winners: winners_digest(&[2, 3, 3]),
                    winning_number: 1033,
                    secret: Some(secret),
                },
                committed,
            ),
        ] {
            let receipt = Receipt {
                agency,
                subject,
                head: key.sign(statement),
            };
            let line = receipt.to_json_line();
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            assert_eq!(Receipt::from_json_line(&line), Ok(receipt));
        }
        assert!(Receipt::from_json_line(r#"{"receipt":"batch"}"#).is_err());
        let finish = Receipt {
            agency,
            subject: ReceiptSubject::Finish { bets: 1 },
            head: key.sign(statement()),
        }
        .to_json_line();
        let with_batch = finish.replacen("\"bets\"", "\"batch\":1,\"bets\"", 1);
        assert!(Receipt::from_json_line(&with_batch).is_err());
        let welcome = Receipt {
            agency,
            subject: ReceiptSubject::Welcome { bets: 0 },
            head: key.sign(statement()),
        }
        .to_json_line();
        assert!(welcome.starts_with("{\"receipt\":\"welcome\",\"agency\":3,\"bets\":0,"));
        let with_rows = welcome.replacen("\"bets\"", "\"rows_bytes\":9,\"bets\"", 1);
        assert!(Receipt::from_json_line(&with_rows).is_err());
        let with_secret = finish.replacen(
            "\"bets\"",
            &format!("\"secret\":\"{}\",\"bets\"", hex(&secret)),
            1,
        );
        assert!(Receipt::from_json_line(&with_secret).is_err());
        let both_rules = finish.replacen(
            "\"position\"",
            &format!("\"commitment\":\"{}\",\"position\"", hex(&[0; 32])),
            1,
        );
        assert!(Receipt::from_json_line(&both_rules).is_err());
    }

    #[test]
    fn keys_are_written_once_the_private_one_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = write_receipt_keys(dir.path()).unwrap();
        let key = ReceiptKey::load(&private).unwrap();
        assert_eq!(ReceiptPubkey::load(&public).unwrap(), key.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = write_receipt_keys(dir.path()).unwrap_err();
        assert!(again.to_string().contains("receipt-key.pem"), "{again}");
        assert!(
            ReceiptPubkey::load(&private).is_err(),
            "a private key is no public key"
        );
    }
}
