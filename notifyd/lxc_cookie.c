// SPDX-License-Identifier: MIT
/* The cookie of LXC's seccomp proxy messages (lxc_proxy.h). */
#include "notifyd/lxc_proxy.h"
#include "notifyd/oci_listener.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-' || *s == ':'))
			return false;
	return true;
}

int lxc_cookie_parse(const char *cookie, size_t len, char *profile, size_t psize, char *name,
                     size_t nsize)
{
	char buf[LXC_COOKIE_MAX + 1], *save = NULL;

	if (len > LXC_COOKIE_MAX || memchr(cookie, '\0', len))
		return -EINVAL;
	memcpy(buf, cookie, len);
	buf[len] = '\0';
	if (oci_metadata_profile(buf, profile, psize) < 0)
		return -EINVAL;
	name[0] = '\0';
	for (char *tok = strtok_r(buf, " \t\n,;", &save); tok;
	     tok = strtok_r(NULL, " \t\n,;", &save)) {
		if (strncmp(tok, "name=", 5) != 0)
			continue;
		if (!name_ok(tok + 5) || strlen(tok + 5) >= nsize)
			return -EINVAL;
		snprintf(name, nsize, "%s", tok + 5);
	}
	return 0;
}
