// SPDX-License-Identifier: MIT
/*
 * The descriptor-section reader on ELF images built by hand: direct and relocated
 * (PIE) string pointers, USDT notes, and every kind of malformed input.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "async/abi.h"
#include "desc.h"

#define BASE	 0x10000ull /* link address of file offset 0 */
#define DESC_OFF 0x100
#define STR_OFF	 0x400

/* What build() produces; the defaults make a valid non-PIE executable. */
struct spec {
	int pie;	      /* pointers 0 in the section, R_X86_64_RELATIVE in .rela.dyn */
	int probes;	      /* a libasync .note.stapsdt note */
	int no_section;	      /* call the section something else */
	int ndesc;	      /* descriptors (max 4) */
	uint32_t bad_magic;   /* nonzero: magic of descriptor 1 */
	uint16_t bad_kind;    /* nonzero: kind of descriptor 1 */
	uint64_t bad_ptr;     /* nonzero: function pointer of descriptor 1 */
	int short_segment;    /* the PT_LOAD ends before the last string's NUL */
	int odd_size;	      /* section size not a multiple of 40 */
	int elfclass;	      /* ELFCLASS64 unless set */
	int elfdata;	      /* ELFDATA2LSB unless set */
	int section_past_eof; /* the section's offset points past the end of the file */
};

static const char *strs[] = { "handle_request_poll", "db_get_user",	"examples/http_server.c",
			      "check_permissions",   "render_template", "async_sleep_poll" };
static size_t str_off[6];

static void put_desc(unsigned char *p, uint32_t magic, uint16_t kind, uint32_t line, uint64_t fn,
		     uint64_t callee, uint64_t file)
{
	struct async_desc_abi d = { .magic = magic, .kind = kind, .line = line };

	d.function = fn;
	d.callee = callee;
	d.file = file;
	memcpy(p, &d, sizeof(d));
}

static uint64_t saddr(int i)
{
	return BASE + STR_OFF + str_off[i];
}

/* Builds the image; returns a malloc'd buffer and its length. */
static unsigned char *build(const struct spec *s, size_t *len)
{
	const size_t size = 0x1000;
	unsigned char *img = calloc(1, size);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph;
	Elf64_Shdr *sh;
	size_t so = 0, ndesc = s->ndesc ? s->ndesc : 4, desc_size = ndesc * 40;
	size_t rela_off = 0x600, note_off = 0x700, shstr_off = 0x800, sh_off = 0x900;
	size_t nrela = 0, note_size = 0, str_end;
	const char shstr[] = "\0.rodata\0async_desc\0.rela.dyn\0.note.stapsdt\0.shstrtab\0"
			     "notasync\0";
	struct {
		uint32_t kind;
		uint32_t line;
		int fn, callee, file;
	} d[4] = {
		{ ASYNC_DESC_FUNCTION, 10, 0, -1, 2 },
		{ ASYNC_DESC_AWAIT, 12, 0, 1, 2 },
		{ ASYNC_DESC_CALL, 13, 0, 4, 2 },
		{ ASYNC_DESC_LEAF, 99, 5, -1, 2 },
	};

	assert_non_null(img);
	/* strings */
	for (int i = 0; i < 6; i++) {
		str_off[i] = so;
		memcpy(img + STR_OFF + so, strs[i], strlen(strs[i]) + 1);
		so += strlen(strs[i]) + 1;
	}
	/* the file name goes last so that a short segment cuts its NUL off */
	str_off[2] = so;
	memcpy(img + STR_OFF + so, strs[2], strlen(strs[2]) + 1);
	so += strlen(strs[2]) + 1;
	str_end = STR_OFF + so;

	/* descriptors, in reverse address order to check sorting */
	for (size_t i = 0; i < ndesc; i++) {
		size_t k = ndesc - 1 - i;
		unsigned char *p = img + DESC_OFF + 40 * i;
		uint64_t ptr[3] = { saddr(d[k].fn), d[k].callee >= 0 ? saddr(d[k].callee) : 0,
				    saddr(d[k].file) };

		if (i == 1 && s->bad_ptr)
			ptr[0] = s->bad_ptr;
		put_desc(p, i == 1 && s->bad_magic ? s->bad_magic : ASYNC_DESC_MAGIC,
			 i == 1 && s->bad_kind ? s->bad_kind : d[k].kind, d[k].line,
			 s->pie ? 0 : ptr[0], s->pie ? 0 : ptr[1], s->pie ? 0 : ptr[2]);
		if (s->pie) {
			for (int f = 0; f < 3; f++) {
				Elf64_Rela *r = (Elf64_Rela *)(img + rela_off) + nrela;

				if (!ptr[f])
					continue;
				r->r_offset = BASE + DESC_OFF + 40 * i + 16 + 8 * f;
				r->r_info = ELF64_R_INFO(0, R_X86_64_RELATIVE);
				r->r_addend = ptr[f];
				nrela++;
			}
		}
	}
	assert_true(rela_off + nrela * sizeof(Elf64_Rela) <= note_off);

	if (s->probes) {
		Elf64_Nhdr *nh = (Elf64_Nhdr *)(img + note_off);
		unsigned char *p = img + note_off + sizeof(*nh);
		const char desc_str[] = "libasync\0poll\0-8@%rdi 8@%rsi";
		uint64_t addrs[3] = { BASE + 0x50, 0, BASE + 0x60 };

		nh->n_namesz = 8;
		nh->n_descsz = 24 + sizeof(desc_str);
		nh->n_type = 3;
		memcpy(p, "stapsdt", 8);
		memcpy(p + 8, addrs, 24);
		memcpy(p + 32, desc_str, sizeof(desc_str));
		note_size = sizeof(*nh) + 8 + ((nh->n_descsz + 3) & ~3u);
	}
	memcpy(img + shstr_off, shstr, sizeof(shstr));

	eh->e_ident[EI_MAG0] = ELFMAG0;
	eh->e_ident[EI_MAG1] = ELFMAG1;
	eh->e_ident[EI_MAG2] = ELFMAG2;
	eh->e_ident[EI_MAG3] = ELFMAG3;
	eh->e_ident[EI_CLASS] = s->elfclass ? s->elfclass : ELFCLASS64;
	eh->e_ident[EI_DATA] = s->elfdata ? s->elfdata : ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = s->pie ? ET_DYN : ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_shoff = sh_off;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 1;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 6;
	eh->e_shstrndx = 5;

	ph = (Elf64_Phdr *)(img + sizeof(*eh));
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R;
	ph->p_offset = 0;
	ph->p_vaddr = ph->p_paddr = BASE;
	ph->p_filesz = ph->p_memsz = s->short_segment ? str_end - 1 : str_end;
	ph->p_align = 0x1000;

	sh = (Elf64_Shdr *)(img + sh_off);
	sh[1] = (Elf64_Shdr){ .sh_name = 1,
			      .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC,
			      .sh_addr = BASE + STR_OFF,
			      .sh_offset = STR_OFF,
			      .sh_size = so,
			      .sh_addralign = 1 };
	sh[2] = (Elf64_Shdr){ .sh_name = s->no_section ? 54 : 9,
			      .sh_type = SHT_PROGBITS,
			      .sh_flags = SHF_ALLOC | SHF_WRITE,
			      .sh_addr = BASE + DESC_OFF,
			      .sh_offset = s->section_past_eof ? 0x100000 : DESC_OFF,
			      .sh_size = desc_size + (s->odd_size ? 8 : 0),
			      .sh_addralign = 8 };
	sh[3] = (Elf64_Shdr){ .sh_name = 20,
			      .sh_type = SHT_RELA,
			      .sh_flags = SHF_ALLOC,
			      .sh_offset = rela_off,
			      .sh_size = nrela * sizeof(Elf64_Rela),
			      .sh_entsize = sizeof(Elf64_Rela),
			      .sh_addralign = 8 };
	sh[4] = (Elf64_Shdr){ .sh_name = 30,
			      .sh_type = s->probes ? SHT_NOTE : SHT_PROGBITS,
			      .sh_offset = note_off,
			      .sh_size = note_size,
			      .sh_addralign = 4 };
	sh[5] = (Elf64_Shdr){ .sh_name = 44,
			      .sh_type = SHT_STRTAB,
			      .sh_offset = shstr_off,
			      .sh_size = sizeof(shstr),
			      .sh_addralign = 1 };
	*len = sh_off + 6 * sizeof(Elf64_Shdr);
	assert_true(*len <= size);
	return img;
}

static int load(const struct spec *s, struct ai_desc_table **t)
{
	size_t len;
	unsigned char *img = build(s, &len);
	int err = ai_desc_table_load_mem(img, len, "mem", 0, t);

	free(img);
	return err;
}

static void check_table(const struct ai_desc_table *t)
{
	const struct ai_desc *d;
	char loc[64];

	assert_int_equal(t->n, 4);
	for (size_t i = 1; i < t->n; i++)
		assert_true(t->descs[i - 1].addr < t->descs[i].addr);
	/* descriptor 0 of the list is written at the highest address */
	d = ai_desc_table_find(t, BASE + DESC_OFF + 3 * 40);
	assert_non_null(d);
	assert_int_equal(d->kind, ASYNC_DESC_FUNCTION);
	assert_string_equal(d->function, "handle_request");
	assert_null(d->callee);
	assert_string_equal(d->file, "examples/http_server.c");
	assert_int_equal(d->line, 10);
	assert_string_equal(ai_desc_location(d, loc, sizeof(loc)), "examples/http_server.c:10");
	d = ai_desc_table_find(t, BASE + DESC_OFF + 2 * 40);
	assert_non_null(d);
	assert_int_equal(d->kind, ASYNC_DESC_AWAIT);
	assert_string_equal(d->function, "handle_request");
	assert_string_equal(d->callee, "db_get_user");
	assert_int_equal(d->line, 12);
	d = ai_desc_table_find(t, BASE + DESC_OFF + 40);
	assert_int_equal(d->kind, ASYNC_DESC_CALL);
	assert_string_equal(d->callee, "render_template");
	d = ai_desc_table_find(t, BASE + DESC_OFF);
	assert_int_equal(d->kind, ASYNC_DESC_LEAF);
	assert_string_equal(d->function, "async_sleep");
	assert_null(ai_desc_table_find(t, BASE + DESC_OFF + 8));
	assert_null(ai_desc_table_find(t, 0));
}

static void test_direct_pointers(void **state)
{
	struct spec s = { 0 };
	struct ai_desc_table *t;

	(void)state;
	assert_int_equal(load(&s, &t), 0);
	check_table(t);
	assert_int_equal(t->has_probes, 0);
	assert_string_equal(t->path, "mem");
	ai_desc_table_free(t);
	ai_desc_table_free(NULL);
}

static void test_pie_relocations(void **state)
{
	struct spec s = { .pie = 1, .probes = 1 };
	struct ai_desc_table *t;

	(void)state;
	assert_int_equal(load(&s, &t), 0);
	check_table(t);
	assert_int_equal(t->has_probes, 1);
	ai_desc_table_free(t);
}

static void test_file_and_probes(void **state)
{
	struct spec s = { .pie = 1, .probes = 1 };
	char path[] = "/tmp/test_tool_desc.XXXXXX";
	struct ai_desc_table *t;
	struct ai_usdt_probe *p;
	size_t len, n;
	unsigned char *img = build(&s, &len);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	close(fd);
	assert_int_equal(ai_desc_table_load(path, 0, &t), 0);
	check_table(t);
	assert_string_equal(t->path, path);
	ai_desc_table_free(t);
	assert_int_equal(ai_usdt_probes_load(path, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].provider, "libasync");
	assert_string_equal(p[0].name, "poll");
	assert_string_equal(p[0].args, "-8@%rdi 8@%rsi");
	assert_int_equal(p[0].pc, BASE + 0x50);
	assert_int_equal(p[0].semaphore, BASE + 0x60);
	ai_usdt_probes_free(p, n);
	assert_int_equal(ai_elf_has_libasync_probes(path), 1);

	/* truncated on disk: the section lies past the end of the file */
	assert_int_equal(truncate(path, 0x200), 0);
	assert_true(ai_desc_table_load(path, 0, &t) < 0);
	assert_null(t);
	unlink(path);
	assert_int_equal(ai_desc_table_load(path, 0, &t), -ENOENT);
	assert_int_equal(ai_desc_table_load("/", 0, &t), -EISDIR);
	free(img);
}

static void expect_err(const struct spec *s, int err, const char *msg)
{
	struct ai_desc_table *t = (void *)1;

	assert_int_equal(load(s, &t), err);
	assert_null(t);
	if (msg && !strstr(ai_desc_strerror(err), msg))
		fail_msg("'%s' does not mention '%s'", ai_desc_strerror(err), msg);
}

static void test_errors(void **state)
{
	struct ai_desc_table *t;

	(void)state;
	expect_err(&(struct spec){ .no_section = 1 }, -ENODATA, "no async_desc section");
	expect_err(&(struct spec){ .bad_magic = 0x12345678 }, -EBADMSG, "bad magic");
	expect_err(&(struct spec){ .bad_kind = 7 }, -EBADMSG, "unknown kind 7");
	expect_err(&(struct spec){ .bad_kind = 0 + 0xffff }, -EBADMSG, "unknown kind");
	expect_err(&(struct spec){ .bad_ptr = 0xdead0000 }, -EBADMSG, "outside");
	expect_err(&(struct spec){ .bad_ptr = 0xdead0000, .pie = 1 }, -EBADMSG, "outside");
	expect_err(&(struct spec){ .short_segment = 1 }, -EBADMSG, "not terminated");
	expect_err(&(struct spec){ .odd_size = 1 }, -EBADMSG, "not a multiple of 40");
	expect_err(&(struct spec){ .elfclass = ELFCLASS32 }, -ENOEXEC, "32-bit");
	expect_err(&(struct spec){ .elfdata = ELFDATA2MSB }, -ENOEXEC, "big-endian");
	expect_err(&(struct spec){ .section_past_eof = 1 }, -EBADMSG, NULL);
	/* a file with probes but no descriptors loads only when asked to */
	{
		struct spec s = { .no_section = 1, .probes = 1 };
		size_t len;
		unsigned char *img = build(&s, &len);

		assert_int_equal(ai_desc_table_load_mem(img, len, "x", 0, &t), -ENODATA);
		assert_int_equal(ai_desc_table_load_mem(img, len, "x", 1, &t), 0);
		assert_int_equal(t->n, 0);
		assert_int_equal(t->has_probes, 1);
		ai_desc_table_free(t);
		free(img);
	}
	assert_int_equal(ai_desc_table_load_mem("hello world, no ELF", 19, "x", 0, &t), -ENOEXEC);
	assert_string_equal(ai_desc_strerror(-ENOEXEC), "not an ELF file");
	assert_int_equal(ai_desc_table_load_mem("\x7f"
						"ELF",
						4, "x", 0, &t),
			 -ENOEXEC);
}

/* Every prefix of a valid image, and every single-byte corruption: an error, no crash. */
static void test_truncation_and_corruption(void **state)
{
	struct spec s = { .pie = 1, .probes = 1 };
	struct ai_desc_table *t;
	size_t len, ok = 0;
	unsigned char *img = build(&s, &len);

	(void)state;
	for (size_t l = 0; l < len; l++) {
		unsigned char *copy = malloc(l ? l : 1);

		memcpy(copy, img, l);
		if (ai_desc_table_load_mem(copy, l, "x", 0, &t) == 0) {
			ok++;
			ai_desc_table_free(t);
		}
		free(copy);
	}
	/* the section headers are last: no prefix is a complete file */
	assert_int_equal(ok, 0);
	for (size_t i = 0; i < len; i += 3) {
		unsigned char *copy = malloc(len);

		memcpy(copy, img, len);
		copy[i] ^= 0xa5;
		if (ai_desc_table_load_mem(copy, len, "x", 0, &t) == 0)
			ai_desc_table_free(t);
		free(copy);
	}
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_pointers),
		cmocka_unit_test(test_pie_relocations),
		cmocka_unit_test(test_file_and_probes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_truncation_and_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
