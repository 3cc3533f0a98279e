/* SPDX-License-Identifier: MIT */
#include "notifyd/oci_listener.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "notifyd/ns_allow.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct oci_conn {
	int fd;
	struct json_tokener *tok;
	size_t total;
	int fds[OCI_MAX_FDS];
	size_t nfds;
};

static bool valid_profile_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

int oci_metadata_profile(const char *metadata, char *buf, size_t size)
{
	_cleanup_free_ char *copy = strdup(metadata ? metadata : "");
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	snprintf(buf, size, "default");
	for (char *tok = strtok_r(copy, " \t\n,;", &save); tok;
	     tok = strtok_r(NULL, " \t\n,;", &save)) {
		if (strncmp(tok, "profile=", 8) != 0)
			continue;
		if (!valid_profile_name(tok + 8) || strlen(tok + 8) >= size)
			return -EINVAL;
		snprintf(buf, size, "%s", tok + 8);
	}
	return 0;
}

static const char *get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int get_pid(json_object *o, const char *key, pid_t *ret)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n <= 0 || n > 4194304) /* PID_MAX_LIMIT */
		return -EINVAL;
	*ret = (pid_t)n;
	return 0;
}

/* A Kubernetes namespace name: a DNS-1123 label (what the API server accepts). */
static bool valid_k8s_namespace(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/*
 * The pod's namespace from the annotations the CRI wrote into the bundle.
 * Anything unusable -- an annotation that is not a string, not a namespace
 * name (too long, upper case, NUL or non-UTF-8 bytes), or the two keys
 * naming different namespaces -- is NS_SOURCE_INVALID: a namespace allowed
 * nothing, never "no annotation" (which the allowlist may treat more
 * kindly).  Duplicate keys in the JSON: json-c keeps the last, as Go's
 * encoding/json does for the CRIs and runc that read the same bundle.
 */
static void k8s_namespace(json_object *state, struct oci_state *st)
{
	static const char *const keys[] = {OCI_K8S_NS_CRIO, OCI_K8S_NS_CONTAINERD};
	json_object *ann, *v;

	st->k8s_source = NS_SOURCE_NONE;
	if (!state || !json_object_object_get_ex(state, "annotations", &ann))
		return;
	if (!json_object_is_type(ann, json_type_object)) {
		st->k8s_source = NS_SOURCE_INVALID;
		snprintf(st->k8s_why, sizeof(st->k8s_why), "state.annotations is not an object");
		return;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *s;
		size_t len;

		if (!json_object_object_get_ex(ann, keys[i], &v))
			continue;
		s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		len = s ? (size_t)json_object_get_string_len(v) : 0;
		if (!s || !valid_k8s_namespace(s, len)) {
			st->k8s_source = NS_SOURCE_INVALID;
			snprintf(st->k8s_why, sizeof(st->k8s_why), "%s is not a namespace name",
			         keys[i]);
			return;
		}
		if (st->k8s_source == NS_SOURCE_VALID && strcmp(st->k8s_ns, s) != 0) {
			st->k8s_source = NS_SOURCE_INVALID;
			snprintf(st->k8s_why, sizeof(st->k8s_why), "%s and %s disagree", keys[0],
			         keys[1]);
			return;
		}
		st->k8s_source = NS_SOURCE_VALID;
		snprintf(st->k8s_ns, sizeof(st->k8s_ns), "%s", s);
	}
}

static int state_from_object(json_object *root, size_t nfds, struct oci_state *st, char *err,
                             size_t errlen)
{
	json_object *fds, *state = NULL;
	const char *s;
	pid_t pid = 0;

	memset(st, 0, sizeof(*st));
	st->seccomp_index = -1;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "state is not a JSON object");
		return -EINVAL;
	}
	if (!json_object_object_get_ex(root, "fds", &fds) ||
	    !json_object_is_type(fds, json_type_array)) {
		snprintf(err, errlen, "no \"fds\" array");
		return -EINVAL;
	}
	for (size_t i = 0; i < json_object_array_length(fds); i++) {
		json_object *name = json_object_array_get_idx(fds, i);
		if (json_object_is_type(name, json_type_string) &&
		    strcmp(json_object_get_string(name), "seccompFd") == 0) {
			st->seccomp_index = (int)i;
			break;
		}
	}
	if (st->seccomp_index < 0) {
		snprintf(err, errlen, "\"fds\" names no seccompFd");
		return -EINVAL;
	}
	if ((size_t)st->seccomp_index >= nfds) {
		snprintf(err, errlen, "seccompFd is fd #%d but %zu fds arrived", st->seccomp_index,
		         nfds);
		return -EINVAL;
	}
	if (get_pid(root, "pid", &pid) == -EINVAL) {
		snprintf(err, errlen, "bad \"pid\"");
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "state", &state) &&
	    json_object_is_type(state, json_type_object)) {
		if (get_pid(state, "pid", &st->pid) == -EINVAL) {
			snprintf(err, errlen, "bad \"state.pid\"");
			return -EINVAL;
		}
		s = get_string(state, "id");
		if (s)
			snprintf(st->id, sizeof(st->id), "%s", s);
		s = get_string(state, "status");
		if (s)
			snprintf(st->status, sizeof(st->status), "%s", s);
		k8s_namespace(state, st);
	}
	if (!st->pid)
		st->pid = pid;
	st->process_pid = pid ? pid : st->pid;
	if (!st->pid) {
		snprintf(err, errlen, "no pid in state");
		return -EINVAL;
	}
	if (!st->id[0])
		snprintf(st->id, sizeof(st->id), "pid-%d", (int)st->pid);
	if (oci_metadata_profile(get_string(root, "metadata"), st->profile, sizeof(st->profile)) <
	    0) {
		snprintf(err, errlen, "listenerMetadata has an invalid profile name");
		return -EINVAL;
	}
	return 0;
}

int oci_state_parse(const char *json, size_t len, size_t nfds, struct oci_state *ret, char *err,
                    size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root;
	int r;

	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root) {
		snprintf(err, errlen, "malformed JSON: %s",
		         json_tokener_error_desc(json_tokener_get_error(tok)));
		json_tokener_free(tok);
		return -EINVAL;
	}
	r = state_from_object(root, nfds, ret, err, errlen);
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}

int oci_conn_new(int fd, struct oci_conn **ret)
{
	struct oci_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return -ENOMEM;
	conn->tok = json_tokener_new();
	if (!conn->tok) {
		free(conn);
		return -ENOMEM;
	}
	conn->fd = fd;
	*ret = conn;
	return 0;
}

int oci_conn_fd(const struct oci_conn *conn)
{
	return conn->fd;
}

/* Is fd really a seccomp listener?  Anything else handed to us is refused. */
static bool is_seccomp_notify_fd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:seccomp notify") == 0;
}

int oci_conn_read(struct oci_conn *conn, struct oci_state *ret_state, int *ret_notify_fd, char *err,
                  size_t errlen)
{
	char buf[65536];

	for (;;) {
		int fds[OCI_MAX_FDS];
		size_t nfds = OCI_MAX_FDS - conn->nfds;
		ssize_t n = fd_recv_with_fds(conn->fd, buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);

		if (n == -EAGAIN)
			return 0;
		if (n < 0) {
			snprintf(err, errlen, "receive failed: %s", strerror((int)-n));
			return (int)n;
		}
		memcpy(conn->fds + conn->nfds, fds, nfds * sizeof(int));
		conn->nfds += nfds;
		if (n == 0) {
			snprintf(err, errlen,
			         "connection closed after %zu bytes, before the state was complete",
			         conn->total);
			return -EPIPE;
		}
		conn->total += (size_t)n;
		if (conn->total > OCI_MAX_MESSAGE) {
			snprintf(err, errlen, "state larger than %d bytes", OCI_MAX_MESSAGE);
			return -EMSGSIZE;
		}
		json_object *root = json_tokener_parse_ex(conn->tok, buf, (int)n);
		enum json_tokener_error jerr = json_tokener_get_error(conn->tok);
		if (!root && jerr == json_tokener_continue)
			continue;
		if (!root) {
			snprintf(err, errlen, "malformed JSON: %s", json_tokener_error_desc(jerr));
			return -EINVAL;
		}
		int r = state_from_object(root, conn->nfds, ret_state, err, errlen);
		json_object_put(root);
		if (r < 0)
			return r;
		int fd = conn->fds[ret_state->seccomp_index];
		if (!is_seccomp_notify_fd(fd)) {
			snprintf(err, errlen, "seccompFd is not a seccomp notify fd");
			return -EBADF;
		}
		conn->fds[ret_state->seccomp_index] = -EBADF;
		*ret_notify_fd = fd;
		return 1;
	}
}

void oci_conn_free(struct oci_conn *conn)
{
	if (!conn)
		return;
	fd_close_all(conn->fds, conn->nfds);
	safe_close(conn->fd);
	json_tokener_free(conn->tok);
	free(conn);
}
