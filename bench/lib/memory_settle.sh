# Sourced by bench scripts: waits until the guest has stopped handing freed memory back to its host.
#
# Some virtual machines (Firecracker, and other KVM guests with virtio-balloon free page reporting) report
# freed guest memory to the host, which unmaps it. Linux does it in passes every 2 s, at most
# max_waiting_mib per pass (1 GiB here), and each pass stalled this VM for about 30 ms: a latency run
# started right after a large free (dropping the page cache, a client exiting with a full queue, deleting
# gigabytes of files) showed a 30 ms stall every 2 s until the freed memory was all reported, which took
# 16 s after freeing 8 GB (bench/RESULTS.md, 2026-11-23). Those stalls belong to the machine and to the run
# before, not to the workload being measured, so latency runs start only once reporting is quiet.
#
# Where the kernel does not expose the counter (no free page reporting, or not a VM) this returns at once.

# Prints "<seconds waited> <MiB reported meanwhile>" (at least 3 s when the counter exists), after at most $1 seconds (default 120); quiet means the
# counter did not move for 3 s (longer than one reporting interval).
wait_for_free_page_reporting() {
    local limit=${1:-120}
    local counter=/sys/module/page_reporting/parameters/reported_kib
    if [ ! -r "$counter" ]; then echo "0 0"; return 0; fi
    local start now first last quiet_since value
    start=$(date +%s.%N)
    first=$(cat "$counter")
    last=$first
    quiet_since=$start
    while :; do
        sleep 0.5
        now=$(date +%s.%N)
        value=$(cat "$counter")
        if [ "$value" != "$last" ]; then last=$value; quiet_since=$now; fi
        if python3 -c 'import sys; n, q, s, l = map(float, sys.argv[1:]); sys.exit(0 if n - q >= 3 or n - s >= l else 1)' \
            "$now" "$quiet_since" "$start" "$limit"; then
            break
        fi
    done
    python3 -c 'import sys; n, q, s, f, l = map(float, sys.argv[1:]); print("%.1f %.0f" % (n - s, (l - f) / 1024))' \
        "$now" "$quiet_since" "$start" "$first" "$last"
}
