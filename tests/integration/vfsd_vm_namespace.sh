#!/bin/bash
# vfsd in a QEMU guest (TCG): mount -t virtiofs and a scripted workload,
# checked from inside the guest and from the host.  Mode: namespace.
# Skips (77) when QEMU, a static busybox or the Debian kernel package is unavailable.
exec "${MV_SRC:-$(dirname "$0")/../..}/tests/vm/run-vfsd-vm.sh" namespace
