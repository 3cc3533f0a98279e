/* SPDX-License-Identifier: MIT */
/*
 * notifyctl oci-config: rewrite an OCI bundle's config.json so that the
 * container uses notifyd (seccomp rules merged with the bundle's own,
 * listenerPath/listenerMetadata, loop devices, block devices).
 * See docs/oci-config.md.
 */
#ifndef MV_OCI_CONFIG_H
#define MV_OCI_CONFIG_H

/*
 * Entry point of "notifyctl oci-config ...": argv[0] is "oci-config".
 * Returns the exit status: 0 done (changed or nothing to change), 1 I/O
 * error, 2 usage error or a config it refuses (file left untouched).
 */
int oci_config_main(int argc, char **argv);

#endif
