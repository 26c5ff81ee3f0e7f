/* SPDX-License-Identifier: ISC */
/* status.c: "oneport status", the running daemon's counters. */
#ifndef STATUS_H
#define STATUS_H

#define ONEPORT_STATUS	"/run/oneportd-status.sock"

int	status_main(int argc, char *argv[]);

#endif
