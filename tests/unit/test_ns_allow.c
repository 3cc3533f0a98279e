/* SPDX-License-Identifier: MIT */
/* The Kubernetes namespace from the OCI state, and the allowlist's decisions. */
#include "notifyd/ns_allow.h"
#include "notifyd/oci_listener.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_ann(const char *ann, struct oci_state *st)
{
	char buf[4096], err[256];
	int n = snprintf(buf, sizeof(buf),
	                 "{\"fds\":[\"seccompFd\"],\"pid\":9,\"metadata\":\"profile=priv\","
	                 "\"state\":{\"id\":\"k\",\"pid\":9%s%s}}",
	                 ann ? ",\"annotations\":" : "", ann ? ann : "");

	return oci_state_parse(buf, (size_t)n, 1, st, err, sizeof(err));
}

static int load(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/test_ns_allow.XXXXXX";
	int fd = mkstemp(path), r;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	r = ns_allow_load(path, err, errlen);
	unlink(path);
	return r;
}

static enum ns_allow_verdict decide(enum ns_allow_source src, const char *ns, const char *prof,
                                    char *got)
{
	struct ns_allow_decision d = {0};

	ns_allow_decide(src, ns, prof, &d);
	strcpy(got, d.profile);
	return d.verdict;
}

int main(void)
{
	struct oci_state st;
	char err[512] = "", got[64];

	CHECK(parse_ann(NULL, &st) == 0 && st.k8s_source == NS_SOURCE_NONE,
	      "no annotations: no namespace");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":\"team-a\"}", &st) == 0 &&
	          st.k8s_source == NS_SOURCE_VALID && !strcmp(st.k8s_ns, "team-a"),
	      "CRI-O's key");
	CHECK(parse_ann("{\"io.kubernetes.cri.sandbox-namespace\":\"kube-system\"}", &st) == 0 &&
	          st.k8s_source == NS_SOURCE_VALID && !strcmp(st.k8s_ns, "kube-system"),
	      "containerd's key");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":\"a\","
	                "\"io.kubernetes.cri.sandbox-namespace\":\"a\"}",
	                &st) == 0 &&
	          st.k8s_source == NS_SOURCE_VALID,
	      "both keys agreeing");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":\"a\","
	                "\"io.kubernetes.cri.sandbox-namespace\":\"b\"}",
	                &st) == 0 &&
	          st.k8s_source == NS_SOURCE_INVALID,
	      "both keys disagreeing: invalid (%s)", st.k8s_why);
	CHECK(parse_ann("[]", &st) == 0 && st.k8s_source == NS_SOURCE_INVALID,
	      "annotations not an object: invalid");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":7}", &st) == 0 &&
	          st.k8s_source == NS_SOURCE_INVALID,
	      "a number: invalid");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":\"a\\u0000b\"}", &st) == 0 &&
	          st.k8s_source == NS_SOURCE_INVALID,
	      "an embedded NUL: invalid");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":\"a\xff\"}", &st) == 0 &&
	          st.k8s_source == NS_SOURCE_INVALID,
	      "a non-UTF-8 byte: invalid");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":\"-a\"}", &st) == 0 &&
	          st.k8s_source == NS_SOURCE_INVALID,
	      "a leading dash: invalid");
	CHECK(parse_ann("{\"io.kubernetes.pod.namespace\":"
	                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	                &st) == 0 &&
	          st.k8s_source == NS_SOURCE_INVALID,
	      "64 characters: invalid");

	/* Decisions. */
	CHECK(decide(NS_SOURCE_VALID, "x", "priv", got) == NS_ALLOW_OFF && !strcmp(got, "priv"),
	      "no allowlist: everything as asked");
	CHECK(load("[policy]\nfallback = default\n[namespace team-a]\nprofiles = priv, vm\n"
	           "[namespace *]\nprofiles = common\n",
	           err, sizeof(err)) == 0,
	      "an allowlist loads (%s)", err);
	CHECK(decide(NS_SOURCE_VALID, "team-a", "vm", got) == NS_ALLOW_ALLOWED &&
	          !strcmp(got, "vm"),
	      "listed profile allowed");
	CHECK(decide(NS_SOURCE_VALID, "team-b", "common", got) == NS_ALLOW_ALLOWED,
	      "[namespace *] applies to every namespace");
	CHECK(decide(NS_SOURCE_VALID, "team-b", "priv", got) == NS_ALLOW_FALLBACK &&
	          !strcmp(got, "default"),
	      "unlisted: fallback to default");
	CHECK(decide(NS_SOURCE_VALID, "team-b", "default", got) == NS_ALLOW_ALLOWED,
	      "default is always allowed");
	CHECK(decide(NS_SOURCE_INVALID, "", "common", got) == NS_ALLOW_FALLBACK,
	      "an invalid namespace is allowed nothing, not even [namespace *]");
	CHECK(decide(NS_SOURCE_NONE, "", "priv", got) == NS_ALLOW_OFF && !strcmp(got, "priv"),
	      "unannotated = allow (the default): as asked");
	CHECK(load("[policy]\nfallback = refuse\nunannotated = default\n", err, sizeof(err)) == 0,
	      "policy keys load");
	CHECK(decide(NS_SOURCE_VALID, "team-a", "vm", got) == NS_ALLOW_REFUSED,
	      "fallback = refuse refuses");
	CHECK(decide(NS_SOURCE_INVALID, "", "default", got) == NS_ALLOW_REFUSED,
	      "fallback = refuse: an invalid namespace is refused even asking for default");
	CHECK(decide(NS_SOURCE_VALID, "team-b", "default", got) == NS_ALLOW_ALLOWED,
	      "fallback = refuse: a valid namespace still has default");
	CHECK(decide(NS_SOURCE_NONE, "", "priv", got) == NS_ALLOW_FALLBACK &&
	          !strcmp(got, "default"),
	      "unannotated = default");
	CHECK(load("[policy]\nfallback = maybe\n", err, sizeof(err)) == -EINVAL &&
	          strstr(err, ":2: "),
	      "a bad value is refused with its line (%s)", err);
	CHECK(decide(NS_SOURCE_VALID, "team-a", "vm", got) == NS_ALLOW_REFUSED,
	      "... and the list in force stays");
	CHECK(load("[namespace A]\nprofiles = x\n", err, sizeof(err)) == -EINVAL,
	      "a namespace that is not a label is refused (%s)", err);
	CHECK(load("[namespace a]\nprofiles = ../x\n", err, sizeof(err)) == -EINVAL,
	      "a profile name with a slash is refused (%s)", err);
	CHECK(load("[namespace a]\nprofiles = x\n[namespace b]\nprofiles = y\n[namespace a]\n"
	           "profiles = z\n",
	           err, sizeof(err)) == -EINVAL,
	      "a namespace given twice is refused (%s)", err);
	CHECK(load("[policy]\nfallbak = default\n", err, sizeof(err)) == -EINVAL,
	      "an unknown key is refused (%s)", err);
	ns_allow_shutdown();
	TAP_EXIT();
}
