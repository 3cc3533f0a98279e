/* SPDX-License-Identifier: MIT */
/*
 * The Kubernetes namespace -> profile allowlist (--namespaces FILE).  A pod
 * chooses its profile through its Localhost seccomp profile's
 * listenerMetadata, which any pod author can point at any installed profile;
 * the allowlist says which namespaces may have which profiles, and what a
 * pod that asks for more gets: the `default` profile or a refused start.
 * The namespace comes from the CRI's annotations in the OCI state
 * (oci_listener.c validates it).  Used by the event loop only.
 */
#ifndef MV_NS_ALLOW_H
#define MV_NS_ALLOW_H

#include <stddef.h>

enum ns_allow_verdict {
	NS_ALLOW_OFF,      /* no allowlist, or an unannotated container with unannotated = allow */
	NS_ALLOW_ALLOWED,  /* the namespace may have the profile it asked for */
	NS_ALLOW_FALLBACK, /* not allowed: runs under `default` */
	NS_ALLOW_REFUSED,  /* not allowed: the container is killed */
};

/* What a Kubernetes namespace annotation said (oci_listener.c fills it). */
enum ns_allow_source {
	NS_SOURCE_NONE,    /* no Kubernetes annotation */
	NS_SOURCE_VALID,   /* a namespace name (DNS-1123 label) */
	NS_SOURCE_INVALID, /* present but unusable: not a string, not a label, two that disagree */
};

struct ns_allow_decision {
	enum ns_allow_verdict verdict;
	char profile[64]; /* the profile to run under */
};

/*
 * Load FILE as the allowlist in force (NULL: none, every profile for
 * everyone, as before).  On error the old one stays; err says file:line.
 */
int ns_allow_load(const char *path, char *err, size_t errlen);
void ns_allow_shutdown(void);
/* Decide for a container of namespace ns (meaningful if src is VALID) asking for profile. */
void ns_allow_decide(enum ns_allow_source src, const char *ns, const char *profile,
                     struct ns_allow_decision *ret);
const char *ns_allow_verdict_name(enum ns_allow_verdict v);

#endif
