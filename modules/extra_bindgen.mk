# A bindgen pass over modules/extra.h with the flags the kernel itself uses
# for rust/bindings (rust/Makefile): gcc-only flags filtered out of c_flags,
# and stack auto-init (codegen only; libclang 14 refuses it without an extra flag).
ssi_bindgen_skip_c_flags := -mno-fp-ret-in-387 -mpreferred-stack-boundary=% \
	-mskip-rax-setup -mgeneral-regs-only -msign-return-address=% \
	-mindirect-branch=thunk-extern -mindirect-branch-register \
	-mfunction-return=thunk-extern -mrecord-mcount -mabi=lp64 \
	-mindirect-branch-cs-prefix -mstack-protector-guard% -mtraceback=no \
	-mno-pointers-to-nested-functions -mno-string \
	-mno-strict-align -mstrict-align -mdirect-extern-access \
	-mexplicit-relocs -mno-check-zero-division \
	-fconserve-stack -falign-jumps=% -falign-loops=% \
	-femit-struct-debug-baseonly -fno-ipa-cp-clone -fno-ipa-sra \
	-fno-partial-inlining -fplugin-arg-arm_ssp_per_task_plugin-% \
	-fno-reorder-blocks -fno-allow-store-data-races -fasan-shadow-offset=% \
	-fzero-call-used-regs=% -fno-stack-clash-protection \
	-fno-inline-functions-called-once -fsanitize=bounds-strict \
	-fstrict-flex-arrays=% -fmin-function-alignment=% \
	-fzero-init-padding-bits=% -mno-fdpic \
	--param=% --param asan-% -fno-isolate-erroneous-paths-dereference \
	-ftrivial-auto-var-init=%

ssi_bindgen_functions := \
	config_group_init_type_name configfs_register_subsystem \
	configfs_unregister_subsystem config_item_init_type_name config_item_put \
	proc_mkdir proc_create_single_data proc_remove \
	seq_write kernel_write kernel_read \
	'ssi_.*'

ssi_bindgen_types := \
	config_item config_group config_item_type configfs_attribute \
	configfs_subsystem configfs_item_operations configfs_group_operations \
	configfs_bin_attribute proc_dir_entry seq_file crypto_shash \
	'ssi_.*'

quiet_cmd_ssi_bindgen = BINDGEN $@
      cmd_ssi_bindgen = $(BINDGEN) $< --rust-target 1.68 --use-core \
	--with-derive-default --ctypes-prefix kernel::ffi --no-layout-tests \
	--no-debug '.*' --enable-function-attribute-detection --no-doc-comments \
	--no-recursive-allowlist \
	$(foreach f,$(ssi_bindgen_functions),--allowlist-function '$(f)') \
	$(foreach t,$(ssi_bindgen_types),--allowlist-type '$(t)') \
	--allowlist-var 'SSI_.*' \
	--opaque-type proc_dir_entry --opaque-type seq_file --opaque-type crypto_shash \
	--raw-line 'use kernel::bindings::*;' \
	-o $@ -- $(filter-out $(ssi_bindgen_skip_c_flags),$(c_flags)) \
	-w --target=x86_64-linux-gnu -DMODULE -fno-builtin -D__BINDGEN__

$(obj)/modules/extra_bindings.rs: $(src)/modules/extra.h FORCE
	$(call if_changed_dep,ssi_bindgen)

targets += modules/extra_bindings.rs
