/* SPDX-License-Identifier: ISC */
/*
 * access.c: who may reach which service. The allow and deny lists of the
 * config the parent sent, the global ones and each service's own, are
 * checked against the real client (the one a trusted PROXY header names)
 * before anything is started or handed over, and filter HELP. The parent
 * checks again what it is passed; the rule is addr_acl_allows's.
 */
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

static struct aclent	*acl;		/* the global entries first */
static uint32_t		 nacl, ndefault;

/* The entries of a config message ipc_config_parse has checked, into a,
 * room for nacl of them that parent_config took: ours now. */
void
access_load(const struct ipc_config_view *v, struct aclent *a)
{
	struct ipc_acl	 m;
	uint32_t	 i;

	for (i = 0; i < v->set.nacl; i++) {
		memcpy(&m, v->acls + i * sizeof(m), sizeof(m));
		a[i].deny = m.deny;
		a[i].net.family = m.net.family;
		a[i].net.prefix = m.net.prefix;
		memcpy(a[i].net.addr, m.net.addr, sizeof(a[i].net.addr));
	}
	free(acl);
	acl = a;
	nacl = v->set.nacl;
	ndefault = v->set.nacl_default;
}

/* Whether peer may reach svc: by its own lists if it has any, else by
 * the global ones (a registered name has none of its own). */
int
access_allows(const struct ipc_service *svc, const struct sockaddr *peer)
{
	if (svc != NULL && svc->acl_len > 0)
		return addr_acl_allows(peer, acl + svc->acl_off,
		    svc->acl_len);
	return addr_acl_allows(peer, acl, ndefault);
}
