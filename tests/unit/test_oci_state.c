/* SPDX-License-Identifier: MIT */
#include "notifyd/lxc_proxy.h"
#include "notifyd/oci_listener.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>

/* As crun 1.8.1 sends it: pretty-printed, ociVersion 0.2.0. */
static const char crun_state[] = "{\n"
                                 "  \"ociVersion\": \"0.2.0\",\n"
                                 "  \"fds\": [\n    \"seccompFd\"\n  ],\n"
                                 "  \"pid\": 4242,\n"
                                 "  \"metadata\": \"profile=trusted-images\",\n"
                                 "  \"state\": {\n    \"ociVersion\": \"0.2.0\",\n"
                                 "    \"id\": \"c1\",\n    \"status\": \"creating\",\n"
                                 "    \"pid\": 4242,\n    \"bundle\": \"/tmp/b\"\n  }\n}\n";
/* As runc 1.1.5 sends it: compact, no metadata, an exec process. */
static const char runc_state[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"fds\":[\"seccompFd\"],\"pid\":777,"
    "\"state\":{\"ociVersion\":\"1.0.2-dev\",\"id\":\"r1\",\"status\":\"running\",\"pid\":700,"
    "\"bundle\":\"/b\",\"annotations\":{\"a\":\"b\"}}}";

int main(void)
{
	struct oci_state st;
	char err[256], prof[64];

	CHECK(oci_state_parse(crun_state, strlen(crun_state), 1, &st, err, sizeof(err)) == 0,
	      "crun's pretty-printed state parses");
	CHECK(st.pid == 4242 && strcmp(st.id, "c1") == 0 &&
	          strcmp(st.profile, "trusted-images") == 0 && st.seccomp_index == 0 &&
	          strcmp(st.status, "creating") == 0,
	      "crun state fields");
	CHECK(oci_state_parse(runc_state, strlen(runc_state), 1, &st, err, sizeof(err)) == 0,
	      "runc's compact state parses");
	CHECK(st.pid == 700 && strcmp(st.id, "r1") == 0 && strcmp(st.profile, "default") == 0,
	      "runc: state.pid (init) wins, profile defaults to 'default'");
	CHECK(oci_state_parse(runc_state, strlen(runc_state), 0, &st, err, sizeof(err)) == -EINVAL,
	      "a state without the fd it names is refused (%s)", err);
	const char *no_seccomp = "{\"fds\":[\"other\"],\"pid\":1}";
	CHECK(oci_state_parse(no_seccomp, strlen(no_seccomp), 1, &st, err, sizeof(err)) == -EINVAL,
	      "fds without seccompFd is refused (%s)", err);
	const char *bad_pid = "{\"fds\":[\"seccompFd\"],\"pid\":-5}";
	CHECK(oci_state_parse(bad_pid, strlen(bad_pid), 1, &st, err, sizeof(err)) == -EINVAL,
	      "a negative pid is refused");
	const char *str_pid = "{\"fds\":[\"seccompFd\"],\"pid\":\"12\"}";
	CHECK(oci_state_parse(str_pid, strlen(str_pid), 1, &st, err, sizeof(err)) == -EINVAL,
	      "a string pid is refused");
	CHECK(oci_state_parse("[1,2]", 5, 1, &st, err, sizeof(err)) == -EINVAL,
	      "an array is refused");
	CHECK(oci_state_parse("{\"fds\":", 7, 1, &st, err, sizeof(err)) == -EINVAL,
	      "truncated JSON is refused");
	const char *bad_prof =
	    "{\"fds\":[\"seccompFd\"],\"pid\":3,\"metadata\":\"profile=../etc\"}";
	CHECK(oci_state_parse(bad_prof, strlen(bad_prof), 1, &st, err, sizeof(err)) == -EINVAL,
	      "a profile name with a path is refused");

	CHECK(oci_metadata_profile("x=1 profile=vm-share;y=2", prof, sizeof(prof)) == 0 &&
	          strcmp(prof, "vm-share") == 0,
	      "profile= found among other metadata");
	CHECK(oci_metadata_profile(NULL, prof, sizeof(prof)) == 0 && strcmp(prof, "default") == 0,
	      "no metadata means the default profile");
	CHECK(oci_metadata_profile("profile=", prof, sizeof(prof)) == -EINVAL,
	      "empty profile name refused");

	/* LXC's cookie: profile= and name=, not NUL-terminated on the wire. */
	char name[64];
	const char ck[] = "profile=trusted name=web-1xGARBAGE";
	CHECK(lxc_cookie_parse(ck, strlen(ck) - 8, prof, sizeof(prof), name, sizeof(name)) == 0 &&
	          !strcmp(prof, "trusted") && !strcmp(name, "web-1"),
	      "LXC cookie: profile and name, length taken from the header");
	CHECK(lxc_cookie_parse("", 0, prof, sizeof(prof), name, sizeof(name)) == 0 &&
	          !strcmp(prof, "default") && !name[0],
	      "LXC: no cookie means the default profile and no name");
	CHECK(lxc_cookie_parse("name=a/../b", 11, prof, sizeof(prof), name, sizeof(name)) ==
	          -EINVAL,
	      "LXC: a name with a slash refused");
	CHECK(lxc_cookie_parse("profile=a\0b", 11, prof, sizeof(prof), name, sizeof(name)) ==
	          -EINVAL,
	      "LXC: a NUL inside the cookie refused");
	CHECK(lxc_cookie_parse("profile=../x", 12, prof, sizeof(prof), name, sizeof(name)) ==
	          -EINVAL,
	      "LXC: a profile name with a path refused");
	TAP_EXIT();
}
