#!/usr/bin/env python3
"""What the course run's CPU is spent on, from `perf script -F
comm,pid,tid,ip,sym,dso` of `perf record -e cpu-clock -g` over course runs
(bench/course_profile.sh runs it).

Usage: course_profile.py PERF_SCRIPT CENTRAL_MS AGENCIES_MS STORE_FLOOR_MS

Each sample is put in the first category whose pattern matches its call
chain (kernel frames first, then the user frame it came from); every
program's shares are printed beside the milliseconds they come to out of
that program's CPU as `perf stat` measured it without sampling (sampling
slows the kernel's paths more than user code, so the profile's own
milliseconds are not used)."""
import collections
import re
import sys

KERNEL = [
    ("process start and end (exec, mappings, exit)",
     r"execve|load_elf|exit_mmap|do_exit|do_group_exit|mmput|vm_mmap|do_mmap|"
     r"__x64_sys_munmap|__x64_sys_mprotect|copy_process|kernel_clone|__x64_sys_brk|mremap"),
    ("page faults (first touch of memory)", r"asm_exc_page_fault|handle_mm_fault"),
    ("TCP over loopback (send, receive, softirq)",
     r"tcp_sendmsg|tcp_recvmsg|__sys_sendto|__sys_recvfrom|sock_write_iter|sock_read_iter|"
     r"net_rx_action|tcp_v4_rcv|__netif_receive"),
    ("fdatasync (the store's syncs)", r"fdatasync|ext4_sync_file|file_write_and_wait|jbd2"),
    ("file writes (store rows, journal, log lines)", r"ksys_write|vfs_write|ext4_file_write"),
    ("file reads (the agency's CSV)", r"ksys_read|vfs_read|filemap_read"),
    ("epoll", r"epoll"),
    ("scheduling (futex, yield, sleep)", r"futex|sched_yield|do_nanosleep|schedule"),
    ("open, close, stat", r"openat|path_openat|__x64_sys_close|statx|fstat|getdents"),
]
LOADER = r"^_dl_|handle_amd|init_cpu_features|get_common_indices|update_active|do_lookup_x|" \
         r"check_match|_dl_relocate|strcmp$|dl_main|std_detect"


def samples(path):
    current = None
    for line in open(path, errors="replace"):
        if not line.strip():
            if current:
                yield current
            current = None
        elif not line[0].isspace():
            match = re.match(r"(.*?)\s+(\d+)/(\d+)\s*$", line.rstrip())
            current = (match.group(1).strip(), match.group(2), []) if match else None
        elif current is not None:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                symbol, _, dso = parts[1].rpartition(" (")
                current[2].append((symbol, dso.rstrip(")")))
    if current:
        yield current


def main():
    path, central_ms, agencies_ms, floor_ms = sys.argv[1], *map(float, sys.argv[2:5])
    data = list(samples(path))
    program_of = {}
    for comm, pid, _ in data:
        if comm.startswith("lottery-agency"):
            program_of[pid] = "agencies"
        elif comm.startswith("lottery-") or comm in ("data-sync", "signals"):
            program_of.setdefault(pid, "central")
    totals = collections.Counter()
    shares = collections.defaultdict(collections.Counter)
    own = collections.defaultdict(collections.Counter)
    for comm, pid, chain in data:
        program = program_of.get(pid)
        if program is None or not chain:
            continue
        totals[program] += 1
        leaf, dso = chain[0]
        if "kernel.kallsyms" in dso:
            text = " ".join(symbol for symbol, _ in chain)
            for name, pattern in KERNEL:
                if re.search(pattern, text):
                    break
            else:
                name = "other kernel"
            shares[program]["kernel: " + name] += 1
        elif re.search(LOADER, leaf) or "ld-linux" in dso:
            shares[program]["user: dynamic loader, CPU detection"] += 1
        else:
            shares[program]["user: the program's code"] += 1
            own[program][re.sub(r"\+0x[0-9a-f]+$", "", leaf)[:60]] += 1
    cpu = {"central": central_ms, "agencies": agencies_ms}
    print(f"{sum(totals.values())} samples of the central and the agencies")
    for program in ("central", "agencies"):
        n = totals[program]
        if not n:
            continue
        print(f"\n{program}: {cpu[program]:.1f} ms of CPU a run (perf stat, median)")
        for name, count in shares[program].most_common():
            print(f"  {100 * count / n:5.1f}%  {cpu[program] * count / n:5.1f} ms  {name}")
        print("  its own code, the heaviest functions:")
        for name, count in own[program].most_common(6):
            print(f"         {cpu[program] * count / n:5.1f} ms  {name}")
    print(f"\nthe store's floor (bench/store_floor.rs, the same bytes written and synced"
          f" with nothing else): {floor_ms:.1f} ms")
    print(f"the run's CPU: {central_ms + agencies_ms:.1f} ms, at best "
          f"{(central_ms + agencies_ms) / 2:.1f} ms of wall time on two cores")


main()
