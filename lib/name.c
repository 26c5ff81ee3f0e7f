/* SPDX-License-Identifier: ISC */
/*
 * name.c: RFC 6335 section 5.1, a service name: 1 to 15 characters,
 * letters, digits and hyphens, at least one letter, no hyphen at either
 * end, no two hyphens in a row. Pure; it never reads past len.
 */
#include "name.h"

/* Why s breaks the rule, or NULL; the words are config.c's messages. */
const char *
name_problem(const char *s, size_t len, int flags)
{
	size_t	i;
	int	letter = 0;

	if (len == 0)
		return "empty";
	if (len > NAME_LEN_MAX)
		return "longer than 15 characters";
	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (!(flags & NAME_LOWER) && s[i] >= 'A' && s[i] <= 'Z'))
			letter = 1;
		else if (s[i] == '-') {
			if (i > 0 && s[i - 1] == '-')
				return "two hyphens in a row";
		} else if (s[i] < '0' || s[i] > '9')
			return "only letters, digits and hyphens are allowed";
	}
	if (s[0] == '-' || s[len - 1] == '-')
		return "begins or ends with a hyphen";
	if (!letter)
		return "needs at least one letter";
	return NULL;
}

int
name_valid(const char *s, size_t len, int flags)
{
	return name_problem(s, len, flags) == NULL;
}
