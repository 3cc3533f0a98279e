/* SPDX-License-Identifier: MIT */
/*
 * The OCI seccomp agent protocol (runtime-spec `listenerPath`): a runtime
 * connects, sends the container process state as JSON with the seccomp notify
 * fd attached by SCM_RIGHTS, possibly over several writes, and may keep the
 * connection open.  We parse as soon as the JSON object is complete.
 */
#ifndef MV_OCI_LISTENER_H
#define MV_OCI_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

#define OCI_MAX_MESSAGE (1024 * 1024) /* Kubernetes annotations can be large; not larger */
#define OCI_MAX_FDS     8

struct oci_state {
	char id[256];      /* state.id */
	pid_t pid;         /* state.pid (the container's init), else pid */
	pid_t process_pid; /* pid: the process being started (a `runc exec`'s), else state.pid */
	char profile[64];  /* from metadata "profile=NAME", else "default" */
	int seccomp_index; /* index of "seccompFd" in fds[] */
	char status[32];
	/*
	 * The Kubernetes namespace from state.annotations (CRI-O's
	 * io.kubernetes.pod.namespace, containerd's
	 * io.kubernetes.cri.sandbox-namespace): k8s_source is an enum
	 * ns_allow_source; k8s_ns is set when it is NS_SOURCE_VALID, k8s_why
	 * says what was wrong when it is NS_SOURCE_INVALID.
	 */
	int k8s_source;
	char k8s_ns[64];
	char k8s_why[96];
};

/* Parse a complete state document; nfds = how many fds arrived.  -EINVAL with err filled. */
int oci_state_parse(const char *json, size_t len, size_t nfds, struct oci_state *ret, char *err,
                    size_t errlen);
/* Find "profile=NAME" in listenerMetadata (tokens split on space, comma, semicolon, newline). */
int oci_metadata_profile(const char *metadata, char *buf, size_t size);

/* The keys a CRI sets; either one names the pod's namespace. */
#define OCI_K8S_NS_CRIO       "io.kubernetes.pod.namespace"
#define OCI_K8S_NS_CONTAINERD "io.kubernetes.cri.sandbox-namespace"

struct oci_conn;
/* Takes ownership of the accepted socket. */
int oci_conn_new(int fd, struct oci_conn **ret);
int oci_conn_fd(const struct oci_conn *conn);
/*
 * Read what is available.  Returns 0 to keep waiting, 1 when finished
 * (*ret_state filled and *ret_notify_fd set to the seccomp fd now owned by
 * the caller), or -errno when the connection must be dropped (err says why).
 */
int oci_conn_read(struct oci_conn *conn, struct oci_state *ret_state, int *ret_notify_fd, char *err,
                  size_t errlen);
void oci_conn_free(struct oci_conn *conn);

#endif
