#!/bin/sh
# The data-plane suite again with `fastpath = false`: the userspace data
# plane must carry every case on its own (it is what runs wherever the
# kernel refuses the tc/eBPF programs).
MIPT_FASTPATH=0
export MIPT_FASTPATH
exec /usr/bin/python3 "$(dirname "$0")/test_dataplane.py" "$@"
