//! The `bets.csv` row parser on arbitrary bytes: it never panics, and every
//! row it accepts is written back by the store encoder into a row that parses
//! to the same bet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery_bet::{StoreRows, encode_store_rows};

fuzz_target!(|data: &[u8]| {
    for row in StoreRows::new(data) {
        let Ok(stored) = row else { continue };
        let mut bytes = Vec::new();
        encode_store_rows(stored.agency, std::slice::from_ref(&stored.bet), &mut bytes);
        let mut back = StoreRows::new(&bytes[..]);
        let again = back
            .next()
            .expect("one row")
            .expect("a row we wrote parses");
        assert!(back.next().is_none());
        assert_eq!(again, stored);
    }
});
