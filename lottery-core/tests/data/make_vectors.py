#!/usr/bin/env python3
"""Generates the Python-compatibility vectors of bets.csv, once.

Writes, next to this script:
- vectors_fields.tsv: one stored bet a line, its six fields separated by tabs
  (no valid field holds a tab or a line break), LF line ends;
- vectors_python.csv: the same rows as Python's csv.writer writes them by
  default (dialect excel: minimal quoting, doubled quotes, CRLF), which is how
  the course's `store_bets` writes bets.csv.

Run: python3 lottery-core/tests/data/make_vectors.py
The outputs are checked in; tests compare our encoder with them byte for byte.
"""

import csv
import os

HERE = os.path.dirname(os.path.abspath(__file__))

ROWS = [
    # agency, first_name, last_name, document, birthdate, number
    (1, "Santiago Lionel", "Lorca", "30904465", "1999-03-17", 7574),
    (1, "Ana, María", "Pérez", "00012345", "2000-02-29", 0),
    (2, 'Juan "Pepe"', "O'Neil", "1", "1970-01-01", 9999),
    (2, '"Quoted"', "Ñandú", "12345678901234567890", "0001-01-01", 42),
    (3, '"', ",", "7", "9999-12-31", 1),
    (3, '","', '""', "8", "1988-11-30", 10),
    # Spaces inside a name (never at its ends: such a name is refused).
    (4, "inner  spaces", "a , b", "9", "2024-02-29", 7574),
    (4, "#hash", "semi;colon", "10", "1950-06-15", 123),
    (5, "Zoë Ærøskøbing", "Łukasiewicz-Šťastný", "11", "1961-07-04", 5555),
    (5, "你好", "日本語, テキスト", "12", "1999-12-31", 9998),
    (6, "emoji 🎲🎰", "back\\slash", "13", "2001-09-11", 7),
    (7, "a" * 255, "é" * 127, "14", "1900-02-28", 7574),
    (8, "tab-free 'single' quotes", "x,y,\"z\"", "0", "2000-01-01", 1000),
    (4294967295, "Max", "Agency", "99999999999999999999", "2023-10-10", 7574),
]


def main():
    with open(os.path.join(HERE, "vectors_fields.tsv"), "w", encoding="utf-8", newline="") as tsv:
        for row in ROWS:
            tsv.write("\t".join(str(field) for field in row) + "\n")
    with open(os.path.join(HERE, "vectors_python.csv"), "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for row in ROWS:
            writer.writerow(row)


if __name__ == "__main__":
    main()
