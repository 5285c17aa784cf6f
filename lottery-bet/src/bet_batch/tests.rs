use super::*;
use crate::field::FieldReason;
use proptest::prelude::*;

/// Text fields as adversarial as names get (those of `bet_fields`' tests):
/// ASCII with spaces and controls, accented letters, format and separator
/// characters, spaces only, anything printable, long names, digits, dates.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ a-zA-Z0-9,\"'\\-]{0,12}",
        "[ \\t\\r\\n\\x00\\x7f]{0,4}",
        " {0,255}",
        "[a-zñéÑ \\x{80}-\\x{9f}\\x{a0}\\x{ad}\\x{202e}\\x{feff}\\x{2028}\\x{2029}\\x{200b}\\x{3000}\\x{e0041}]{0,10}",
        "\\PC{0,12}",
        "[a-z]{250,255}",
        "é{126,128}",
        "[0-9]{0,22}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    ]
}

/// `texts` laid in one buffer with `gap` junk bytes before each, as a frame
/// lays them (a length byte before each); their ranges.
fn lay_out(texts: &[&[u8]], gap: &[u8]) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut bytes = Vec::new();
    let mut ranges = Vec::new();
    for text in texts {
        bytes.extend_from_slice(gap);
        ranges.push(bytes.len()..bytes.len() + text.len());
        bytes.extend_from_slice(text);
    }
    bytes.extend_from_slice(gap);
    (bytes, ranges)
}

/// Pushes one bet of four texts and a number into a fresh builder.
fn push_one(texts: [&[u8]; 4], number: u32, gap: &[u8]) -> Result<BetBatch, FieldError> {
    let (bytes, ranges) = lay_out(&texts, gap);
    let mut builder = BetBatch::builder(bytes, 1);
    let [first, last, document, birthdate] = <[Range<usize>; 4]>::try_from(ranges).unwrap();
    builder.push(first, last, document, birthdate, number)?;
    Ok(builder.finish())
}

proptest! {
    #[test]
    fn checking_in_place_agrees_with_building_a_bet(
        first in field(),
        last in field(),
        document in field(),
        birthdate in field(),
        number in prop_oneof![0u32..=9999, any::<u32>()],
        gap in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let reference = Bet::from_parts(&first, &last, &document, birthdate.as_bytes(), number);
        let texts = [first.as_bytes(), last.as_bytes(), document.as_bytes(), birthdate.as_bytes()];
        let in_place = push_one(texts, number, &gap);
        match reference {
            Ok(bet) => {
                let batch = in_place.expect("a valid bet is valid in place too");
                prop_assert_eq!(batch.to_bets(), vec![bet.clone()]);
                prop_assert_eq!(&batch, &BetBatch::from_bets(&[bet]));
            }
            Err(error) => prop_assert_eq!(in_place.unwrap_err(), error),
        }
    }

    #[test]
    fn a_bet_laid_as_a_frame_lays_it_is_checked_as_by_its_ranges(
        first in field(),
        last in field(),
        document in prop_oneof![field(), "[0-9]{1,20}"],
        birthdate in prop_oneof![field(), "(19|20)[0-9]{2}-(0[1-9]|1[0-2])-[0-2][0-9]"],
        number in prop_oneof![0u32..=9999, any::<u32>()],
        gap in any::<u8>(),
        junk in any::<u8>(),
    ) {
        // One byte before each text, as a frame's length bytes (of any
        // value: `push_framed` is told the lengths), junk after the last.
        let texts = [first.as_bytes(), last.as_bytes(), document.as_bytes(), birthdate.as_bytes()];
        prop_assume!(texts.iter().all(|text| text.len() <= 255));
        let (mut bytes, ranges) = lay_out(&texts, &[gap]);
        bytes.extend_from_slice(&[junk; 3]);
        let lens = texts.map(|text| u8::try_from(text.len()).unwrap());
        let texts = <[Range<usize>; 4]>::try_from(ranges).unwrap();
        let (mut by_ranges, mut framed) = (BetBatch::builder(bytes.clone(), 2), BetBatch::builder(bytes, 2));
        // Twice: into an empty batch, then after a bet was added (or refused).
        for _ in 0..2 {
            let [first_name, last_name, doc, date] = texts.clone();
            let expected = by_ranges.push(first_name, last_name, doc, date, number);
            prop_assert_eq!(framed.push_framed(texts[0].start, lens, number), expected);
        }
        prop_assert_eq!(framed.len(), by_ranges.len());
        let (by_ranges, framed) = (by_ranges.finish(), framed.finish());
        prop_assert_eq!(&framed, &by_ranges);
        let agency = AgencyId::new(12).unwrap();
        let (mut rows, mut framed_rows) = (Vec::new(), Vec::new());
        by_ranges.write_store_rows(agency, &mut rows);
        framed.write_store_rows(agency, &mut framed_rows);
        prop_assert_eq!(framed_rows, rows);
    }

    #[test]
    fn a_batch_of_bets_reads_back_as_those_bets(
        texts in proptest::collection::vec((field(), field(), "[0-9]{1,20}", 0u32..=9999), 0..8),
    ) {
        let bets: Vec<Bet> = texts
            .iter()
            .filter_map(|(first, last, document, number)| {
                Bet::from_parts(first, last, document, b"1999-03-17", *number).ok()
            })
            .collect();
        let batch = BetBatch::from_bets(&bets);
        prop_assert_eq!(batch.len(), bets.len());
        prop_assert_eq!(batch.to_bets(), bets.clone());
        for (view, bet) in batch.iter().zip(&bets) {
            prop_assert_eq!(view.first_name(), bet.first_name.as_str());
            prop_assert_eq!(view.last_name(), bet.last_name.as_str());
            prop_assert_eq!(view.document(), bet.document.as_str());
            prop_assert_eq!(view.birthdate_text(), &bet.birthdate.to_text());
            prop_assert_eq!(view.number(), bet.number);
        }
    }

    #[test]
    fn names_that_are_not_utf8_are_refused_on_their_field(
        prefix in "[a-z]{0,5}",
        bad in 0x80u8..=0xFF,
        last in any::<bool>(),
    ) {
        let mut name = prefix.into_bytes();
        name.push(bad);
        let texts: [&[u8]; 4] = if last {
            [b"Ana", &name, b"1", b"2000-01-01"]
        } else {
            [&name, b"Paz", b"1", b"2000-01-01"]
        };
        let field = if last { Field::LastName } else { Field::FirstName };
        prop_assert_eq!(
            push_one(texts, 1, b"#").unwrap_err(),
            FieldError::new(field, FieldReason::Malformed)
        );
    }
}

#[test]
fn a_refused_bet_is_not_added_and_the_next_one_may_be() {
    let (bytes, r) = lay_out(&[b"Ana", b"", b"12", b"2000-01-01", b"Luis"], b"|");
    let mut builder = BetBatch::builder(bytes, 2);
    let error = builder
        .push(r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone(), 7)
        .unwrap_err();
    assert_eq!(error, FieldError::new(Field::LastName, FieldReason::Empty));
    assert!(builder.is_empty());
    builder
        .push(r[0].clone(), r[4].clone(), r[2].clone(), r[3].clone(), 7)
        .unwrap();
    let batch = builder.finish();
    assert_eq!(
        batch.to_bets(),
        [Bet::from_fields("Ana", "Luis", "12", "2000-01-01", "7").unwrap()]
    );
}

#[test]
fn the_first_bet_born_after_today_is_named() {
    let bet = |date: &str| Bet::from_fields("Ana", "Paz", "1", date, "7").unwrap();
    let batch = BetBatch::from_bets(&[bet("2000-01-01"), bet("2025-06-02"), bet("2030-01-01")]);
    let today = Birthdate::new(2025, 6, 1).unwrap();
    assert_eq!(
        batch.check_born_by(today),
        Err((1, FieldError::new(Field::Birthdate, FieldReason::InFuture)))
    );
    assert_eq!(
        batch.get(1).unwrap().check_born_by(today),
        batch.check_born_by(today).map_err(|(_, e)| e)
    );
    assert_eq!(batch.check_born_by(Birthdate::LAST), Ok(()));
}

#[test]
fn batches_are_equal_by_their_bets_not_by_their_bytes() {
    let bets = [
        Bet::from_fields("Ana", "Paz", "1", "2000-01-01", "7").unwrap(),
        Bet::from_fields("Luis", "Sosa", "2", "2000-01-02", "8").unwrap(),
    ];
    let packed = BetBatch::from_bets(&bets);
    let (bytes, r) = lay_out(
        &[
            b"Ana",
            b"Paz",
            b"1",
            b"2000-01-01",
            b"Luis",
            b"Sosa",
            b"2",
            b"2000-01-02",
        ],
        b"xyz",
    );
    let mut builder = BetBatch::builder(bytes, 2);
    builder
        .push(r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone(), 7)
        .unwrap();
    builder
        .push(r[4].clone(), r[5].clone(), r[6].clone(), r[7].clone(), 8)
        .unwrap();
    let in_place = builder.finish();
    assert_eq!(in_place, packed);
    assert_ne!(in_place, BetBatch::from_bets(&bets[..1]));
    assert_ne!(
        in_place,
        BetBatch::from_bets(&[bets[1].clone(), bets[0].clone()])
    );
    assert_eq!(*bets.as_bet_batch(), packed);
    assert_eq!(*bets.to_vec().as_bet_batch(), packed);
}
