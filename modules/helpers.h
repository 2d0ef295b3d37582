/* SPDX-License-Identifier: GPL-2.0 */
/* C helpers for ssi.ko: static inlines and macros Rust cannot call. */
#ifndef SSI_HELPERS_H
#define SSI_HELPERS_H

struct configfs_subsystem;
struct seq_file;

/* mutex_init() on the subsystem's su_mutex (a macro with a lock class). */
void ssi_configfs_subsystem_init(struct configfs_subsystem *subsys);

/* seq_file's private data (set by single_open). */
void *ssi_seq_private(struct seq_file *m);

#endif
