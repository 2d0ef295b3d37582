/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for the merged resources (procspace/resources.rs): the kernel's
 * own /proc/meminfo, stat, loadavg and cpuinfo texts, read through a
 * private procfs mount that the /proc root hook (modules/proc_root.c)
 * does not reach. What is read and how it is merged is decided in Rust.
 */
#ifndef SSI_RESOURCES_HELPERS_H
#define SSI_RESOURCES_HELPERS_H

#include <linux/types.h>

/* Mounts a private instance of procfs (attached nowhere, of the caller's
 * pid namespace); returns it, or NULL with the error in `*err`. */
void *ssi_kproc_mount(int *err);
/* Unmounts what ssi_kproc_mount returned. */
void ssi_kproc_unmount(void *mnt);
/* Reads the file `name` of its root from the start into `buf`, at most
 * `len` bytes; returns the bytes read (`len`: maybe more were left), or a
 * negative errno. May sleep. */
long ssi_kproc_read(void *mnt, const char *name, u8 *buf, size_t len);

#endif
