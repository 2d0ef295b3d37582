/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C glue for high availability (ha/): the file system calls that write a
 * checkpoint image under a temporary name and put it in place. Which
 * files, when and why is decided in Rust (ha/, proto/src/ha.rs).
 */
#ifndef SSI_HA_HELPERS_H
#define SSI_HA_HELPERS_H

#include <linux/types.h>

struct file;

/* Creates directory `path` with `mode` unless it exists: 0 or -errno. */
int ssi_ha_mkdir(const char *path, u16 mode);
/* Creates (or truncates) the regular file `path` with `mode`, open for
 * writing; NULL with *err set on failure. */
struct file *ssi_ha_create(const char *path, u16 mode, int *err);
/* Renames `from` to `to`, both in directory `dir` (replacing `to`): 0 or
 * -errno. */
int ssi_ha_rename(const char *dir, const char *from, const char *to);
/* Removes the file `name` (`is_dir`: the empty directory) of directory
 * `dir`: 0 or -errno. */
int ssi_ha_remove(const char *dir, const char *name, int is_dir);
/* Test aid: flips bit `bit` (0..PAGE_SIZE*8-1) of the anonymous page at
 * `addr` of this namespace's process `pid`, through the kernel's mapping
 * of the page, so its page table entry is not marked dirty: 0, -ESRCH
 * (no such process or no memory), -EFAULT (not mapped), -EINVAL (not an
 * anonymous page in memory, or `bit` too large), -EBUSY (an anonymous
 * page shared with another process since a fork). */
int ssi_ha_flip_bit(u32 pid, u64 addr, u32 bit);

#endif
