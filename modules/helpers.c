// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for ssi.ko: wrappers around static inlines and macros that Rust
 * cannot call. Keep this file tiny: logic belongs in Rust.
 */
#include <linux/configfs.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include "helpers.h"

void ssi_configfs_subsystem_init(struct configfs_subsystem *subsys)
{
	mutex_init(&subsys->su_mutex);
}

void *ssi_seq_private(struct seq_file *m)
{
	return m->private;
}
