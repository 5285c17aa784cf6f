#!/usr/bin/env python3
"""A model of the store's disk work: append in small writes, fdatasync after
every group, in turn, as the central's group commit does; prints MB/s.

    python3 bench/append_sync_model.py [DIR]   (default: target/, the store's disk)

Compares group sizes, and starting the writeback as the bytes are written
(sync_file_range(SYNC_FILE_RANGE_WRITE) after each write, Linux only).
BENCHMARKS.md ("What sets each number", ingest) gives its numbers.
"""
import ctypes
import os
import sys
import time

SYNC_FILE_RANGE_WRITE = 2
LIBC = ctypes.CDLL(None, use_errno=True)


def rate(path, start_writeback, group, piece, total=100 << 20):
    """MB/s of appending `total` bytes in `piece`-byte writes, `group` bytes per fdatasync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    chunk = b"x" * piece
    began = time.monotonic()
    written = 0
    while written < total:
        grouped = 0
        while grouped < group:
            os.write(fd, chunk)
            if start_writeback:
                LIBC.sync_file_range(fd, ctypes.c_longlong(written), ctypes.c_longlong(piece),
                                     SYNC_FILE_RANGE_WRITE)
            written += piece
            grouped += piece
        os.fdatasync(fd)
    elapsed = time.monotonic() - began
    os.close(fd)
    os.unlink(path)
    return total / elapsed / 1e6


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target"
    path = os.path.join(directory, "append-sync-model.bin")
    for start_writeback in (False, True, False, True):
        label = "sync_file_range per write" if start_writeback else "plain"
        print(f"2.4 MB groups, 16 KB writes, {label}: "
              f"{rate(path, start_writeback, 2_400_000, 16_000):.0f} MB/s")
    for group in (600_000, 2_400_000, 10_000_000, 50_000_000):
        print(f"{group / 1e6:g} MB groups, 64 KB writes: {rate(path, False, group, 64_000):.0f} MB/s")


if __name__ == "__main__":
    main()
