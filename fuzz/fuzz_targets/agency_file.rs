//! The agency-file row parser on arbitrary bytes: it never panics, and every
//! bet it accepts survives the wire (as a `WireBet`) and the store (as a
//! `bets.csv` row) unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery_core::{AgencyFile, AgencyId, StoreRows, encode_store_rows};
use lottery_net::WireBet;

fuzz_target!(|data: &[u8]| {
    let agency = AgencyId::new(1).expect("1 is an agency");
    for row in AgencyFile::from_reader("fuzz.csv", data) {
        let Ok(bet) = row else { continue };
        let wire = WireBet::from_bet(&bet);
        assert_eq!(wire.into_bet().as_ref(), Ok(&bet));
        let mut stored = Vec::new();
        encode_store_rows(agency, std::slice::from_ref(&bet), &mut stored);
        let back: Vec<_> = StoreRows::new(&stored[..]).collect();
        assert_eq!(back.len(), 1);
        let back = back
            .into_iter()
            .next()
            .expect("one row")
            .expect("a row we wrote parses");
        assert_eq!(back.agency, agency);
        assert_eq!(back.bet, bet);
    }
});
