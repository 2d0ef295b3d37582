/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel interfaces ssi.ko uses that the 6.12 kernel crate's bindings lack.
 * modules/extra_bindgen.mk turns the allowlisted parts into Rust.
 */
#include <linux/configfs.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include "helpers.h"
#include "exec_hook.h"
#include "pid_files.h"
#include "proc_root.h"
#include "../checkpoint/task_helpers.h"
#include "../migration/migration_helpers.h"
#include "../procspace/procs_helpers.h"
#include "../procspace/resources_helpers.h"
#include "../scheduler/sched_helpers.h"
#include "../ha/ha_helpers.h"
