/*
 * fastpath_obj.S - the compiled tc/eBPF programs (ha/fastpath.bpf.o, made
 * by clang at build time) as read-only data of the daemon, for
 * bpf_object__open_mem().
 */
	.section .rodata
	.balign 8
	.globl	mipha_fastpath_obj
	.type	mipha_fastpath_obj, @object
mipha_fastpath_obj:
	.incbin	"ha/fastpath.bpf.o"
mipha_fastpath_obj_end:
	.size	mipha_fastpath_obj, mipha_fastpath_obj_end - mipha_fastpath_obj

	.balign 8
	.globl	mipha_fastpath_obj_size
	.type	mipha_fastpath_obj_size, @object
mipha_fastpath_obj_size:
	.quad	mipha_fastpath_obj_end - mipha_fastpath_obj
	.size	mipha_fastpath_obj_size, 8

	.section .note.GNU-stack,"",@progbits
