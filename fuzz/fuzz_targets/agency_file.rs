//! The agency-file row parser on arbitrary bytes: it never panics, every
//! bet it accepts survives the wire (as a `WireBet`) and the store (as a
//! `bets.csv` row) unchanged, and its fast path (plain rows read in runs,
//! `AgencyFile::read_plain_bets`, in turns with `next_fields`) yields the
//! same bets and errors as the rows read one by one, each plain bet encoded
//! as its fields are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery_bet::{AgencyFile, AgencyId, StoreRows, encode_store_rows};
use lottery_net::{EncodedBets, WireBet};

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

    let mut runs = AgencyFile::from_reader("fuzz.csv", data);
    let (mut fast, mut plain, mut fields) =
        (Vec::new(), EncodedBets::default(), EncodedBets::default());
    loop {
        runs.read_plain_bets(|bet| {
            plain.push_plain(&bet);
            fields.push_fields(bet.fields());
            fast.push(Ok(bet.fields().to_bet()));
        });
        match runs.next_fields() {
            Some(row) => fast.push(
                row.map(|fields| fields.to_bet())
                    .map_err(|e| (e.line, e.error)),
            ),
            None => break,
        }
    }
    let one_by_one: Vec<_> = AgencyFile::from_reader("fuzz.csv", data)
        .map(|row| row.map_err(|e| (e.line, e.error)))
        .collect();
    assert_eq!(fast, one_by_one);
    assert_eq!(plain, fields);
});
