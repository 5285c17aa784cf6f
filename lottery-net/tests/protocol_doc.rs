//! `PROTOCOL.md` and the code cannot drift: every hex example in it decodes to
//! exactly one frame of the message it is tagged with, encodes back to the
//! same bytes, and the error code table matches [`ErrorCode`].

use lottery_net::{
    AgencyMessage, CentralMessage, Decoder, ErrorCode, encode_agency_message,
    encode_central_message,
};

const PROTOCOL: &str = include_str!("../PROTOCOL.md");

const AGENCY_MESSAGES: [&str; 4] = ["Hello", "Batch", "Finish", "WinnersQuery"];
const CENTRAL_MESSAGES: [&str; 10] = [
    "Welcome",
    "Ack",
    "Finished",
    "SignedWelcome",
    "SignedAck",
    "SignedFinished",
    "SignedDraw",
    "Winners",
    "NotDrawn",
    "Error",
];

/// The fenced blocks tagged `hex NAME`: (NAME, bytes). `#` starts a comment.
fn hex_examples() -> Vec<(String, Vec<u8>)> {
    let mut examples = Vec::new();
    let mut lines = PROTOCOL.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```hex ") else {
            continue;
        };
        let mut bytes = Vec::new();
        for line in lines.by_ref().take_while(|line| !line.starts_with("```")) {
            let data = line.split('#').next().unwrap_or_default();
            for pair in data.split_whitespace() {
                let byte = u8::from_str_radix(pair, 16)
                    .unwrap_or_else(|_| panic!("{name}: `{pair}` is not a hex byte"));
                bytes.push(byte);
            }
        }
        examples.push((name.trim().to_owned(), bytes));
    }
    examples
}

#[test]
fn every_hex_example_decodes_to_its_message_and_encodes_back() {
    let examples = hex_examples();
    assert!(!examples.is_empty(), "PROTOCOL.md has no hex examples");
    for (name, bytes) in &examples {
        let mut decoder = Decoder::new(lottery_net::DEFAULT_MAX_FRAME);
        decoder.extend(bytes);
        let mut encoded = Vec::new();
        if AGENCY_MESSAGES.contains(&name.as_str()) {
            let message: AgencyMessage = decoder
                .next_agency_message()
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap_or_else(|| panic!("{name}: incomplete frame"));
            assert_eq!(message.name(), name);
            encode_agency_message(&message, lottery_net::DEFAULT_MAX_FRAME, &mut encoded).unwrap();
        } else {
            assert!(
                CENTRAL_MESSAGES.contains(&name.as_str()),
                "unknown message name `{name}`"
            );
            let message: CentralMessage = decoder
                .next_central_message()
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap_or_else(|| panic!("{name}: incomplete frame"));
            assert_eq!(message.name(), name);
            encode_central_message(&message, lottery_net::DEFAULT_MAX_FRAME, &mut encoded).unwrap();
        }
        assert_eq!(decoder.buffered(), 0, "{name}: bytes after the frame");
        assert_eq!(&encoded, bytes, "{name}: encoding differs from the example");
    }
}

#[test]
fn every_message_has_a_hex_example() {
    let examples = hex_examples();
    for name in AGENCY_MESSAGES.iter().chain(&CENTRAL_MESSAGES) {
        assert!(
            examples.iter().any(|(example, _)| example == name),
            "PROTOCOL.md has no example of {name}"
        );
    }
}

#[test]
fn the_error_code_table_matches_the_code() {
    let section = PROTOCOL
        .split("## 4. Error codes")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("PROTOCOL.md has a section 4. Error codes");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | code | `Name` | meaning | connection |
            (cells.len() == 6 && cells[1].parse::<u16>().is_ok() && cells[2].starts_with('`'))
                .then_some(cells)
        })
        .collect();
    assert_eq!(rows.len(), ErrorCode::KNOWN.len(), "one row per known code");
    for row in rows {
        let code = ErrorCode::from_code(row[1].parse().unwrap());
        assert_eq!(row[2].trim_matches('`'), code.name(), "code {}", row[1]);
        let closed = match row[4] {
            "closed" => true,
            "stays open" => false,
            other => panic!("code {}: connection column says `{other}`", row[1]),
        };
        assert_eq!(closed, code.closes_connection(), "code {}", code.name());
    }
}
