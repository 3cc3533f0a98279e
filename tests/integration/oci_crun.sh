#!/bin/bash
# notifyd as the seccomp agent of crun containers: see oci_common.sh.
# shellcheck source=tests/integration/oci_common.sh
. "$(dirname "$0")/oci_common.sh"
oci_main crun
