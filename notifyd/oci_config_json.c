/* SPDX-License-Identifier: MIT */
/*
 * notifyctl oci-config, shared helpers: refusals and change lines, and the
 * strict reading and editing of config.json's JSON (duplicate keys, depth
 * and types checked) used by the seccomp and device parts.
 */
#include "notifyd/oci_config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int occ_refuse(struct occ *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One line per change ("change: ..."), or per thing deliberately kept ("kept: ..."). */
void occ_say(struct occ *c, bool change, const char *fmt, ...)
{
	va_list ap;

	fputs(change ? "change: " : "kept: ", c->out);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	if (change)
		c->changes++;
}

/* ------------------------------------------------------------------------ */
/* JSON input                                                                 */
/* ------------------------------------------------------------------------ */

/* Keys in the text: a string followed by ':' outside any string. */
static size_t raw_key_count(const char *s, size_t n)
{
	size_t keys = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		for (i++; i < n && s[i] != '"'; i++)
			if (s[i] == '\\')
				i++;
		size_t j = i + 1;
		while (j < n && isspace((unsigned char)s[j]))
			j++;
		if (j < n && s[j] == ':')
			keys++;
	}
	return keys;
}

static size_t tree_key_count(json_object *o)
{
	size_t keys = 0;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			keys += 1 + tree_key_count(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			keys += tree_key_count(json_object_array_get_idx(o, i));
	}
	return keys;
}

/*
 * Strict JSON, one object, nothing after it, no duplicate keys: runtimes
 * disagree on which duplicate wins, and rewriting would silently drop one.
 */
int occ_parse_object(struct occ *c, const char *what, const char *buf, size_t len,
                     json_object **ret)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	if (memchr(buf, '\0', len))
		return occ_refuse(c, "%s is not JSON (it holds a NUL byte)", what);
	tok = json_tokener_new_ex(OCC_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		json_tokener_free(tok);
		if (e == json_tokener_error_depth)
			return occ_refuse(c, "%s nests deeper than %d levels", what, OCC_MAX_DEPTH);
		return occ_refuse(c, "%s is not JSON: %s", what,
		                  e == json_tokener_continue ? "it ends in the middle"
		                                             : json_tokener_error_desc(e));
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)buf[end]))
		end++;
	if (end != len) {
		json_object_put(o);
		return occ_refuse(c, "%s is not JSON: data after the top-level value", what);
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return occ_refuse(c, "%s is not a JSON object", what);
	}
	if (raw_key_count(buf, len) != tree_key_count(o)) {
		json_object_put(o);
		return occ_refuse(
		    c, "%s has a duplicate key (runtimes disagree on which one counts)", what);
	}
	*ret = o;
	return 0;
}

/*
 * o.key as type t: 1 when present, 0 when absent (then a new empty object or
 * array is added if create), -EINVAL (refused) when of another type.
 */
int occ_member(struct occ *c, json_object *o, const char *where, const char *key, json_type t,
               bool create, json_object **ret)
{
	json_object *v;

	*ret = NULL;
	if (json_object_object_get_ex(o, key, &v)) {
		if (!json_object_is_type(v, t))
			return occ_refuse(c, "%s%s is of type %s, not %s", where, key,
			                  json_type_to_name(json_object_get_type(v)),
			                  json_type_to_name(t));
		*ret = v;
		return 1;
	}
	if (!create)
		return 0;
	v = t == json_type_array ? json_object_new_array() : json_object_new_object();
	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	*ret = v;
	return 0;
}

const char *occ_str_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int occ_add_str(json_object *o, const char *key, const char *val)
{
	json_object *v = json_object_new_string(val);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int occ_add_int(json_object *o, const char *key, int64_t val)
{
	json_object *v = json_object_new_int64(val);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int occ_append(json_object *arr, json_object *v)
{
	if (!v || json_object_array_add(arr, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}
