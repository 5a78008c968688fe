/*
 * test_ctl.c - the control protocol (common/ctl_proto.c) and the output
 * emitter (common/emit.c): command table, request and status lines with
 * every kind of malformed input, exact JSON and text renderings.
 * ctl_test.sh validates the JSON with a real parser end to end.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "emit.h"

/* --- helpers ------------------------------------------------------- */

static int
parse_argv(const char *cmdline, struct ctl_request *req, char *err,
    size_t errlen)
{
	char	 buf[2048], *words[32], *p, *save = NULL;
	int	 n = 0;

	snprintf(buf, sizeof(buf), "%s", cmdline);
	for (p = strtok_r(buf, " ", &save); p != NULL && n < 32;
	    p = strtok_r(NULL, " ", &save))
		words[n++] = p;
	return ctl_parse_words(n, words, req, err, errlen);
}

static int
parse_line(const char *line, struct ctl_request *req, char *err,
    size_t errlen)
{
	return ctl_request_parse(line, strlen(line), req, err, errlen);
}

/* Render with fn and compare with the expected output. */
static char *
render(enum emit_format fmt, void (*fn)(struct emit *))
{
	struct emit *e;
	char	*s;

	ck_assert_ptr_nonnull(e = emit_new(fmt));
	fn(e);
	ck_assert_msg(emit_finish(e) == 0, "emit error: %s", emit_error(e));
	ck_assert_ptr_nonnull(s = emit_take(e, NULL));
	ck_assert_uint_eq(emit_pending(e), 0);
	emit_free(e);
	return s;
}

#define ck_render(fmt, fn, want) do {				\
	char *got_ = render((fmt), (fn));			\
	ck_assert_str_eq(got_, (want));				\
	free(got_);						\
} while (0)

/* Expect fn to put the emitter in its error state, with msg in it. */
static void
ck_misuse(enum emit_format fmt, void (*fn)(struct emit *), const char *msg)
{
	struct emit *e;

	ck_assert_ptr_nonnull(e = emit_new(fmt));
	fn(e);
	ck_assert_int_eq(emit_finish(e), -1);
	ck_assert_ptr_nonnull(emit_error(e));
	ck_assert_msg(strstr(emit_error(e), msg) != NULL, "error '%s' lacks "
	    "'%s'", emit_error(e), msg);
	emit_free(e);
}

static struct in_addr
ip(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* --- command table and argv ---------------------------------------- */

START_TEST(argv_valid)
{
	struct ctl_request r;
	char	 err[256];

	ck_assert_int_eq(parse_argv("show bindings", &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_SHOW_BINDINGS);
	ck_assert_str_eq(r.tenant, "");
	ck_assert_int_eq(r.format, EMIT_TEXT);

	ck_assert_int_eq(parse_argv("show bindings acme", &r, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_SHOW_BINDINGS);
	ck_assert_str_eq(r.tenant, "acme");

	ck_assert_int_eq(parse_argv("show tenants", &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_SHOW_TENANTS);
	ck_assert_int_eq(parse_argv("show stats", &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_SHOW_STATS);
	ck_assert_int_eq(parse_argv("reload", &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_RELOAD);

	ck_assert_int_eq(parse_argv("clear binding 198.18.10.5", &r, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_CLEAR_BINDING);
	ck_assert_uint_eq(r.hoa.s_addr, ip("198.18.10.5").s_addr);
	ck_assert_str_eq(r.tenant, "");

	ck_assert_int_eq(parse_argv("clear binding 198.18.10.5 acme", &r, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_CLEAR_BINDING);
	ck_assert_str_eq(r.tenant, "acme");

	/* A tenant may be named like a keyword. */
	ck_assert_int_eq(parse_argv("show bindings stats", &r, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(r.tenant, "stats");
}
END_TEST

static const struct {
	const char	*argv;
	const char	*msg;
} bad_argv[] = {
	{ "", "missing command" },
	{ "foo", "unknown command 'foo'" },
	{ "SHOW stats", "unknown command 'SHOW'" },
	{ "sh stats", "unknown command 'sh'" },
	{ "show", "missing argument: expected bindings, tenants or stats" },
	{ "show foo", "unknown argument 'foo' (expected bindings, tenants or "
	    "stats)" },
	{ "show binding", "unknown argument 'binding'" },
	{ "show bindings acme extra", "unexpected argument 'extra'" },
	{ "show tenants acme", "unexpected argument 'acme'" },
	{ "show stats now", "unexpected argument 'now'" },
	{ "clear", "missing argument: expected binding" },
	{ "clear bindings", "unknown argument 'bindings' (expected binding)" },
	{ "clear binding", "missing argument: expected HOA" },
	{ "clear binding acme", "invalid home address 'acme'" },
	{ "clear binding 198.18.10", "invalid home address '198.18.10'" },
	{ "clear binding 198.18.10.256", "invalid home address" },
	{ "clear binding 198.18.10.5/32", "invalid home address" },
	{ "clear binding ::1", "invalid home address" },
	{ "clear binding 198.18.10.5 acme x", "unexpected argument 'x'" },
	{ "reload now", "unexpected argument 'now'" },
	{ "show bindings "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "invalid tenant name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'" },
};

START_TEST(argv_invalid)
{
	struct ctl_request r;
	char	 err[256];

	err[0] = '\0';
	ck_assert_msg(parse_argv(bad_argv[_i].argv, &r, err, sizeof(err)) ==
	    -1, "'%s' accepted", bad_argv[_i].argv);
	ck_assert_msg(strstr(err, bad_argv[_i].msg) != NULL,
	    "'%s': error '%s' lacks '%s'", bad_argv[_i].argv, err,
	    bad_argv[_i].msg);
}
END_TEST

START_TEST(argv_tenant_chars)
{
	struct ctl_request r;
	char	 err[256], name[CTL_TENANT_MAX + 2];
	char	*words[3] = { "show", "bindings", NULL };

	/* Exactly CTL_TENANT_MAX characters is fine, one more is not. */
	memset(name, 'x', CTL_TENANT_MAX);
	name[CTL_TENANT_MAX] = '\0';
	words[2] = name;
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.tenant, name);
	strcat(name, "x");
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), -1);

	/* Spaces, control characters and non-ASCII are not names. */
	words[2] = "ac me";
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), -1);
	words[2] = "ac\tme";
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid tenant name 'ac?me'");
	words[2] = "\xc3\xa9t\xc3\xa9";
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), -1);
	words[2] = "";
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), -1);
	words[2] = "a.b-c_d@e";
	ck_assert_int_eq(ctl_parse_words(3, words, &r, err, sizeof(err)), 0);
}
END_TEST

START_TEST(cmd_info_table)
{
	const struct ctl_cmd_info *ci;
	struct ctl_request r;
	char	 err[256], line[256];
	int	 i;

	ck_assert_ptr_null(ctl_cmd_info(CTL_NONE));
	ck_assert_ptr_null(ctl_cmd_info(CTL_CMD_MAX));
	ck_assert_ptr_null(ctl_cmd_info((enum ctl_cmd)-1));
	/* Every command's words parse back to it (with its arguments). */
	for (i = CTL_NONE + 1; i < CTL_CMD_MAX; i++) {
		ck_assert_ptr_nonnull(ci = ctl_cmd_info((enum ctl_cmd)i));
		snprintf(line, sizeof(line), "%s%s", ci->words,
		    i == CTL_CLEAR_BINDING ? " 198.18.10.5" : "");
		ck_assert_int_eq(parse_argv(line, &r, err, sizeof(err)), 0);
		ck_assert_int_eq(r.cmd, i);
		ck_assert_ptr_nonnull(ci->help);
		ck_assert_ptr_nonnull(ci->args);
	}
}
END_TEST

/* --- request lines ------------------------------------------------- */

START_TEST(encode_exact)
{
	struct ctl_request r;
	char	 buf[CTL_LINE_MAX + 1];

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_SHOW_BINDINGS;
	r.format = EMIT_JSON;
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), 26);
	ck_assert_str_eq(buf, "MIPHA1 json show bindings\n");
	strcpy(r.tenant, "acme");
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), 31);
	ck_assert_str_eq(buf, "MIPHA1 json show bindings acme\n");

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_CLEAR_BINDING;
	r.hoa = ip("198.18.10.5");
	ck_assert_int_gt(ctl_request_encode(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "MIPHA1 text clear binding 198.18.10.5\n");
	strcpy(r.tenant, "acme");
	ck_assert_int_gt(ctl_request_encode(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "MIPHA1 text clear binding 198.18.10.5 acme\n");

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_RELOAD;
	ck_assert_int_gt(ctl_request_encode(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "MIPHA1 text reload\n");
	r.cmd = CTL_SHOW_STATS;
	ck_assert_int_gt(ctl_request_encode(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "MIPHA1 text show stats\n");
	r.cmd = CTL_SHOW_TENANTS;
	ck_assert_int_gt(ctl_request_encode(&r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "MIPHA1 text show tenants\n");
}
END_TEST

START_TEST(encode_invalid)
{
	struct ctl_request r;
	char	 buf[CTL_LINE_MAX + 1];

	memset(&r, 0, sizeof(r));
	r.cmd = CTL_NONE;
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), -1);
	r.cmd = CTL_CMD_MAX;
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), -1);
	r.cmd = CTL_SHOW_STATS;
	r.format = (enum emit_format)7;
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), -1);
	r.format = EMIT_TEXT;
	strcpy(r.tenant, "acme");	/* show stats takes no tenant */
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), -1);
	r.cmd = CTL_SHOW_BINDINGS;
	strcpy(r.tenant, "ac me");
	ck_assert_int_eq(ctl_request_encode(&r, buf, sizeof(buf)), -1);
	strcpy(r.tenant, "acme");
	/* Too small a buffer. */
	ck_assert_int_eq(ctl_request_encode(&r, buf, 10), -1);
	ck_assert_int_eq(ctl_request_encode(&r, buf, 31), -1);
	ck_assert_int_eq(ctl_request_encode(&r, buf, 32), 31);
}
END_TEST

START_TEST(roundtrip)
{
	static const char *const cmds[] = {
		"show bindings", "show bindings acme", "show tenants",
		"show stats", "clear binding 0.0.0.0",
		"clear binding 255.255.255.255 x", "reload",
	};
	struct ctl_request a, b;
	char	 err[256], buf[CTL_LINE_MAX + 1];
	size_t	 i;
	int	 n, f;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (f = 0; f < 2; f++) {
			ck_assert_int_eq(parse_argv(cmds[i], &a, err,
			    sizeof(err)), 0);
			a.format = f ? EMIT_JSON : EMIT_TEXT;
			n = ctl_request_encode(&a, buf, sizeof(buf));
			ck_assert_int_gt(n, 0);
			ck_assert_int_eq(ctl_request_parse(buf, (size_t)n, &b,
			    err, sizeof(err)), 0);
			ck_assert_int_eq(a.cmd, b.cmd);
			ck_assert_int_eq(a.format, b.format);
			ck_assert_uint_eq(a.hoa.s_addr, b.hoa.s_addr);
			ck_assert_str_eq(a.tenant, b.tenant);
		}
	}
}
END_TEST

START_TEST(parse_valid)
{
	struct ctl_request r;
	char	 err[256];

	ck_assert_int_eq(parse_line("MIPHA1 json show stats\n", &r, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_SHOW_STATS);
	ck_assert_int_eq(r.format, EMIT_JSON);
	ck_assert_int_eq(parse_line("MIPHA1 text clear binding 10.1.2.3 t\n",
	    &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, CTL_CLEAR_BINDING);
	ck_assert_int_eq(r.format, EMIT_TEXT);
	ck_assert_uint_eq(r.hoa.s_addr, ip("10.1.2.3").s_addr);
	ck_assert_str_eq(r.tenant, "t");
}
END_TEST

static const struct {
	const char	*line;
	size_t		 len;		/* 0: strlen */
	const char	*msg;
} bad_lines[] = {
	{ "", 0, "empty request" },
	{ "\n", 0, "empty word" },
	{ "MIPHA1 json show stats", 0, "not terminated by a newline" },
	{ "MIPHA1 json show stats\r\n", 0, "byte 0x0d at offset 22" },
	{ "MIPHA1 json show\tstats\n", 0, "byte 0x09" },
	{ "MIPHA1 json show stats\0\n", 24, "byte 0x00 at offset 22" },
	{ "MIPHA1 json show \x80stats\n", 0, "byte 0x80" },
	{ "MIPHA1 json show \x7fstats\n", 0, "byte 0x7f" },
	{ "MIPHA1 json show stats\nMIPHA1 json reload\n", 0, "byte 0x0a" },
	{ " MIPHA1 json show stats\n", 0, "empty word" },
	{ "MIPHA1 json show stats \n", 0, "empty word" },
	{ "MIPHA1  json show stats\n", 0, "empty word" },
	{ "MIPHA1 json show  stats\n", 0, "empty word" },
	{ "MIPHA2 json show stats\n", 0, "unsupported protocol version" },
	{ "mipha1 json show stats\n", 0, "not a mipha control request" },
	{ "GET / HTTP/1.0\n", 0, "not a mipha control request" },
	{ "MIPHA1\n", 0, "missing output format" },
	{ "MIPHA1 json\n", 0, "missing command" },
	{ "MIPHA1 xml show stats\n", 0, "unknown output format 'xml'" },
	{ "MIPHA1 JSON show stats\n", 0, "unknown output format 'JSON'" },
	{ "MIPHA1 json frobnicate\n", 0, "unknown command 'frobnicate'" },
	{ "MIPHA1 json show\n", 0, "missing argument" },
	{ "MIPHA1 json show stats please\n", 0, "unexpected argument" },
	{ "MIPHA1 json clear binding\n", 0, "missing argument: expected HOA" },
	{ "MIPHA1 json clear binding 1.2.3.4.5\n", 0, "invalid home address" },
	{ "MIPHA1 json clear binding 01.2.3.4\n", 0, "invalid home address" },
	{ "MIPHA1 json a b c d e f g h i j k l m n o p q\n", 0,
	    "too many words" },
};

START_TEST(parse_invalid)
{
	struct ctl_request r;
	char	 err[256];
	size_t	 len = bad_lines[_i].len;

	if (len == 0)
		len = strlen(bad_lines[_i].line);
	err[0] = '\0';
	ck_assert_msg(ctl_request_parse(bad_lines[_i].line, len, &r, err,
	    sizeof(err)) == -1, "line %d accepted", _i);
	ck_assert_msg(strstr(err, bad_lines[_i].msg) != NULL,
	    "line %d: error '%s' lacks '%s'", _i, err, bad_lines[_i].msg);
	/* The message must be fit for an ERR line. */
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(parse_length)
{
	struct ctl_request r;
	char	 line[CTL_LINE_MAX + 2], err[256];
	size_t	 n;

	/* A request of exactly CTL_LINE_MAX bytes parses ... */
	n = (size_t)snprintf(line, sizeof(line), "MIPHA1 json show bindings ");
	memset(line + n, 'x', CTL_LINE_MAX - n - 1);
	line[CTL_LINE_MAX - 1] = '\n';
	line[CTL_LINE_MAX] = '\0';
	ck_assert_int_eq(ctl_request_parse(line, CTL_LINE_MAX, &r, err,
	    sizeof(err)), -1);
	/* ... up to the command table (that tenant name is too long). */
	ck_assert_msg(strstr(err, "invalid tenant name") != NULL, "%s", err);
	/* One byte more is rejected before anything else. */
	memset(line + n, 'x', CTL_LINE_MAX - n);
	line[CTL_LINE_MAX] = '\n';
	ck_assert_int_eq(ctl_request_parse(line, CTL_LINE_MAX + 1, &r, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "request longer than 1024 bytes");
	/* A tiny error buffer truncates, never overflows. */
	ck_assert_int_eq(ctl_request_parse("x\n", 2, &r, err, 4), -1);
	ck_assert_str_eq(err, "not");
}
END_TEST

/* --- status lines -------------------------------------------------- */

START_TEST(status_lines)
{
	char	 buf[CTL_STATUS_MAX + 64], msg[64], big[CTL_STATUS_MAX + 2000];
	size_t	 n;

	ck_assert_uint_eq(ctl_status_encode(buf, sizeof(buf), NULL), 3);
	ck_assert_str_eq(buf, "OK\n");
	ck_assert_uint_eq(ctl_status_encode(buf, sizeof(buf), "no such "
	    "tenant"), 19);
	ck_assert_str_eq(buf, "ERR no such tenant\n");
	ctl_status_encode(buf, sizeof(buf), "");
	ck_assert_str_eq(buf, "ERR unspecified error\n");
	/* Multi-line messages join with "; ", binary becomes "?": one line. */
	ctl_status_encode(buf, sizeof(buf), "a\nb\tc\x01\xff");
	ck_assert_str_eq(buf, "ERR a; b c??\n");
	/* Long messages are cut at CTL_STATUS_MAX. */
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = ctl_status_encode(buf, sizeof(buf), big);
	ck_assert_uint_eq(n, CTL_STATUS_MAX);
	ck_assert_int_eq(buf[n - 1], '\n');
	n = ctl_status_encode(buf, 16, big);
	ck_assert_uint_eq(n, 15);
	ck_assert_str_eq(buf, "ERR mmmmmmmmmm\n");

	ck_assert_int_eq(ctl_status_parse("OK", 2, msg, sizeof(msg)),
	    CTL_STATUS_OK);
	ck_assert_int_eq(ctl_status_parse("ERR no such tenant", 18, msg,
	    sizeof(msg)), CTL_STATUS_ERR);
	ck_assert_str_eq(msg, "no such tenant");
	ck_assert_int_eq(ctl_status_parse("ERR", 3, msg, sizeof(msg)),
	    CTL_STATUS_ERR);
	ck_assert_str_eq(msg, "");
	ck_assert_int_eq(ctl_status_parse("ERR \x1b[31mred", 12, msg,
	    sizeof(msg)), CTL_STATUS_ERR);
	ck_assert_str_eq(msg, "?[31mred");
	ck_assert_int_eq(ctl_status_parse("ERR abcdef", 10, msg, 4),
	    CTL_STATUS_ERR);
	ck_assert_str_eq(msg, "abc");
	ck_assert_int_eq(ctl_status_parse("OK ", 3, msg, sizeof(msg)),
	    CTL_STATUS_BAD);
	ck_assert_int_eq(ctl_status_parse("ok", 2, msg, sizeof(msg)),
	    CTL_STATUS_BAD);
	ck_assert_int_eq(ctl_status_parse("ERROR x", 7, msg, sizeof(msg)),
	    CTL_STATUS_BAD);
	ck_assert_int_eq(ctl_status_parse("", 0, msg, sizeof(msg)),
	    CTL_STATUS_BAD);
	ck_assert_int_eq(ctl_status_parse("HTTP/1.0 200", 12, msg,
	    sizeof(msg)), CTL_STATUS_BAD);
}
END_TEST

/* --- emitter: JSON ------------------------------------------------- */

static void
e_nothing(struct emit *e)
{
	(void)e;
}

static void
e_empty_array(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_array_end(e);
}

static void
e_empty_object(struct emit *e)
{
	emit_object_begin(e, NULL);
	emit_object_end(e);
}

static void
e_bindings(struct emit *e)
{
	emit_array_begin(e, "ignored at top");
	emit_object_begin(e, NULL);
	emit_str(e, "tenant", "acme");
	emit_addr(e, "home_address", ip("198.18.10.5"));
	emit_str(e, "nai", "alice@acme.example");
	emit_uint(e, "lifetime", 600);
	emit_bool(e, "reverse_tunnel", true);
	emit_object_end(e);
	emit_object_begin(e, NULL);
	emit_str(e, "tenant", "beta");
	emit_addr(e, "home_address", ip("198.18.20.77"));
	emit_str(e, "nai", NULL);
	emit_uint(e, "lifetime", 65535);
	emit_bool(e, "reverse_tunnel", false);
	emit_object_end(e);
	emit_array_end(e);
}

static void
e_stats(struct emit *e)
{
	emit_object_begin(e, NULL);
	emit_uint(e, "registrations_accepted", 10);
	emit_object_begin(e, "registrations_denied");
	emit_uint(e, "131", 4);
	emit_uint(e, "133", 1);
	emit_object_end(e);
	emit_object_begin(e, "packets_dropped");
	emit_object_end(e);
	emit_int(e, "delta", -3);
	emit_null(e, "last_error");
	emit_object_end(e);
}

static void
e_numbers(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_uint(e, NULL, 0);
	emit_uint(e, NULL, UINT64_MAX);
	emit_int(e, NULL, INT64_MIN);
	emit_int(e, NULL, INT64_MAX);
	emit_bool(e, NULL, true);
	emit_null(e, NULL);
	emit_strf(e, NULL, "%s/%d", "198.18.10.0", 24);
	emit_addr(e, NULL, ip("0.0.0.0"));
	emit_addr(e, NULL, ip("255.255.255.255"));
	emit_array_end(e);
}

static void
e_nested(struct emit *e)
{
	emit_object_begin(e, NULL);
	emit_array_begin(e, "encapsulations");
	emit_str(e, NULL, "ipip");
	emit_str(e, NULL, "gre");
	emit_array_end(e);
	emit_array_begin(e, "empty");
	emit_array_end(e);
	emit_object_begin(e, "a");
	emit_object_begin(e, "b");
	emit_array_begin(e, "c");
	emit_object_begin(e, NULL);
	emit_uint(e, "d", 1);
	emit_object_end(e);
	emit_array_end(e);
	emit_object_end(e);
	emit_object_end(e);
	emit_object_end(e);
}

static void
e_scalar(struct emit *e)
{
	emit_str(e, NULL, "just me");
}

START_TEST(json_shapes)
{
	ck_render(EMIT_JSON, e_nothing, "");
	ck_render(EMIT_JSON, e_empty_array, "[]\n");
	ck_render(EMIT_JSON, e_empty_object, "{}\n");
	ck_render(EMIT_JSON, e_scalar, "\"just me\"\n");
	ck_render(EMIT_JSON, e_bindings,
	    "[\n"
	    "  {\"tenant\": \"acme\", \"home_address\": \"198.18.10.5\", "
	    "\"nai\": \"alice@acme.example\", \"lifetime\": 600, "
	    "\"reverse_tunnel\": true},\n"
	    "  {\"tenant\": \"beta\", \"home_address\": \"198.18.20.77\", "
	    "\"nai\": null, \"lifetime\": 65535, \"reverse_tunnel\": false}\n"
	    "]\n");
	ck_render(EMIT_JSON, e_stats,
	    "{\n"
	    "  \"registrations_accepted\": 10,\n"
	    "  \"registrations_denied\": {\"131\": 4, \"133\": 1},\n"
	    "  \"packets_dropped\": {},\n"
	    "  \"delta\": -3,\n"
	    "  \"last_error\": null\n"
	    "}\n");
	ck_render(EMIT_JSON, e_numbers,
	    "[\n  0,\n  18446744073709551615,\n  -9223372036854775808,\n"
	    "  9223372036854775807,\n  true,\n  null,\n"
	    "  \"198.18.10.0/24\",\n  \"0.0.0.0\",\n  \"255.255.255.255\"\n"
	    "]\n");
	ck_render(EMIT_JSON, e_nested,
	    "{\n"
	    "  \"encapsulations\": [\"ipip\", \"gre\"],\n"
	    "  \"empty\": [],\n"
	    "  \"a\": {\"b\": {\"c\": [{\"d\": 1}]}}\n"
	    "}\n");
}
END_TEST

static const struct {
	const char	*in;
	const char	*json;		/* without the quotes */
	const char	*text;
} strings[] = {
	{ "plain", "plain", "plain" },
	{ "", "", "" },
	{ "q\"b\\s/", "q\\\"b\\\\s/", "q\"b\\s/" },
	{ "\n\r\t", "\\n\\r\\t", "???" },
	{ "\x01\x08\x0c\x1f", "\\u0001\\u0008\\u000c\\u001f", "????" },
	{ "del\x7f", "del\\u007f", "del?" },
	{ "\x1b[2J", "\\u001b[2J", "?[2J" },
	/* Valid UTF-8 passes: 2, 3 and 4 byte sequences, U+FFFF, U+10FFFF. */
	{ "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80",
	    "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80",
	    "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80" },
	{ "\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf",
	    "\xef\xbf\xbf\xf4\x8f\xbf\xbf" },
	/* C1 control U+009B (CSI) is valid JSON but not for a terminal. */
	{ "\xc2\x9b" "1m", "\xc2\x9b" "1m", "?1m" },
	/* Invalid UTF-8: every offending byte becomes \u00XX. */
	{ "\xff", "\\u00ff", "?" },
	{ "a\x80z", "a\\u0080z", "a?z" },
	{ "\xc3", "\\u00c3", "?" },				/* truncated */
	{ "\xc3z", "\\u00c3z", "?z" },
	{ "\xe2\x82", "\\u00e2\\u0082", "??" },			/* truncated */
	{ "\xc0\x80", "\\u00c0\\u0080", "??" },			/* overlong NUL */
	{ "\xe0\x80\xaf", "\\u00e0\\u0080\\u00af", "???" },	/* overlong */
	{ "\xed\xa0\x80", "\\u00ed\\u00a0\\u0080", "???" },	/* surrogate */
	{ "\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080", "????" },
	{ "\xf8\x88\x80\x80\x80", "\\u00f8\\u0088\\u0080\\u0080\\u0080",
	    "?????" },
};

START_TEST(strings_escaped)
{
	struct emit *e;
	char	 want[256], *got;

	ck_assert_ptr_nonnull(e = emit_new(EMIT_JSON));
	emit_str(e, NULL, strings[_i].in);
	ck_assert_int_eq(emit_finish(e), 0);
	got = emit_take(e, NULL);
	snprintf(want, sizeof(want), "\"%s\"\n", strings[_i].json);
	ck_assert_msg(strcmp(got, want) == 0, "string %d: json %s, want %s",
	    _i, got, want);
	free(got);
	emit_free(e);

	ck_assert_ptr_nonnull(e = emit_new(EMIT_TEXT));
	emit_object_begin(e, NULL);
	emit_str(e, "k", strings[_i].in);
	emit_object_end(e);
	ck_assert_int_eq(emit_finish(e), 0);
	got = emit_take(e, NULL);
	snprintf(want, sizeof(want), "k: %s\n", strings[_i].text);
	ck_assert_msg(strcmp(got, want) == 0, "string %d: text '%s', want "
	    "'%s'", _i, got, want);
	free(got);
	emit_free(e);
}
END_TEST

static void
e_key_escape(struct emit *e)
{
	emit_object_begin(e, NULL);
	emit_uint(e, "a\"b\n", 1);
	emit_object_end(e);
}

static void
e_long_string(struct emit *e)
{
	char	*s = malloc(300000);

	ck_assert_ptr_nonnull(s);
	memset(s, 'a', 299999);
	s[299999] = '\0';
	s[150000] = '\x01';
	emit_str(e, NULL, s);
	free(s);
}

START_TEST(json_keys_and_long)
{
	struct emit *e;
	char	*got;
	size_t	 len;

	ck_render(EMIT_JSON, e_key_escape, "{\n  \"a\\\"b\\n\": 1\n}\n");
	/* A string over several chunks, with an escape in the middle. */
	ck_assert_ptr_nonnull(e = emit_new(EMIT_JSON));
	e_long_string(e);
	ck_assert_int_eq(emit_finish(e), 0);
	ck_assert_uint_eq(emit_pending(e), 299999 + 5 + 3);
	got = emit_take(e, &len);
	ck_assert_uint_eq(len, 299999 + 5 + 3);
	ck_assert_int_eq(got[0], '"');
	ck_assert_int_eq(memcmp(got + 150001, "\\u0001", 6), 0);
	ck_assert_int_eq(got[150007], 'a');
	ck_assert_str_eq(got + len - 3, "a\"\n");
	free(got);
	emit_free(e);
}
END_TEST

/* --- emitter: text ------------------------------------------------- */

START_TEST(text_table)
{
	ck_render(EMIT_TEXT, e_bindings,
	    "tenant  home_address  nai                 lifetime  "
	    "reverse_tunnel\n"
	    "acme    198.18.10.5   alice@acme.example       600  yes\n"
	    "beta    198.18.20.77  -                      65535  no\n");
}
END_TEST

static void
e_ragged(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_object_begin(e, NULL);
	emit_str(e, "name", "a");
	emit_uint(e, "n", 5);
	emit_object_end(e);
	/* Keys in another order, one missing, one new, an empty string. */
	emit_object_begin(e, NULL);
	emit_uint(e, "n", 12345);
	emit_str(e, "extra", "");
	emit_object_end(e);
	emit_object_begin(e, NULL);
	emit_str(e, "name", "\xc3\xa9t\xc3\xa9");	/* 3 characters */
	emit_object_begin(e, "c");
	emit_uint(e, "x", 1);
	emit_object_end(e);
	emit_array_begin(e, "list");
	emit_str(e, NULL, "ipip");
	emit_str(e, NULL, "gre");
	emit_array_end(e);
	emit_object_end(e);
	emit_array_end(e);
}

START_TEST(text_ragged)
{
	ck_render(EMIT_TEXT, e_ragged,
	    "name      n  extra  c.x  list\n"
	    "a         5  -        -  -\n"
	    "-     12345  -        -  -\n"
	    "\xc3\xa9t\xc3\xa9       -  -        1  ipip,gre\n");
}
END_TEST

START_TEST(text_object)
{
	ck_render(EMIT_TEXT, e_stats,
	    "registrations_accepted: 10\n"
	    "registrations_denied.131: 4\n"
	    "registrations_denied.133: 1\n"
	    "delta: -3\n"
	    "last_error: -\n");
	ck_render(EMIT_TEXT, e_nested,
	    "encapsulations: ipip, gre\n"
	    "empty: -\n"
	    "a.b.c:\n"
	    "  d\n"
	    "  1\n");
	ck_render(EMIT_TEXT, e_numbers,
	    "0\n18446744073709551615\n-9223372036854775808\n"
	    "9223372036854775807\nyes\n-\n198.18.10.0/24\n0.0.0.0\n"
	    "255.255.255.255\n");
	ck_render(EMIT_TEXT, e_scalar, "just me\n");
	ck_render(EMIT_TEXT, e_empty_array, "");
	ck_render(EMIT_TEXT, e_empty_object, "");
	ck_render(EMIT_TEXT, e_nothing, "");
}
END_TEST

static void
e_table_of_scalars_and_arrays(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_object_begin(e, NULL);
	emit_uint(e, "v", 1);
	emit_object_end(e);
	emit_str(e, NULL, "loose");
	emit_array_begin(e, NULL);
	emit_uint(e, NULL, 7);
	emit_object_begin(e, NULL);
	emit_uint(e, "deep", 8);
	emit_object_end(e);
	emit_array_end(e);
	emit_array_end(e);
}

START_TEST(text_odd_shapes)
{
	/* Never fails on shapes a table does not fit; values go somewhere. */
	ck_render(EMIT_TEXT, e_table_of_scalars_and_arrays,
	    "v  value\n"
	    "1  -\n"
	    "-  loose\n"
	    "-  7,8\n");
}
END_TEST

/* --- emitter: misuse and limits ------------------------------------ */

static void
m_no_key(struct emit *e)
{
	emit_object_begin(e, NULL);
	emit_uint(e, NULL, 1);
	emit_object_end(e);
}

static void
m_unclosed(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_object_begin(e, NULL);
}

static void
m_wrong_end(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_object_end(e);
}

static void
m_end_first(struct emit *e)
{
	emit_array_end(e);
}

static void
m_two_values(struct emit *e)
{
	emit_array_begin(e, NULL);
	emit_array_end(e);
	emit_uint(e, NULL, 1);
}

static void
m_deep(struct emit *e)
{
	int	 i;

	for (i = 0; i <= EMIT_DEPTH_MAX; i++)
		emit_array_begin(e, NULL);
	for (i = 0; i <= EMIT_DEPTH_MAX; i++)
		emit_array_end(e);
}

static void
m_columns(struct emit *e)
{
	char	 key[16];
	int	 i;

	emit_array_begin(e, NULL);
	emit_object_begin(e, NULL);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		emit_uint(e, key, (uint64_t)i);
	}
	emit_object_end(e);
	emit_array_end(e);
}

static void
m_limit(struct emit *e)
{
	int	 i;

	emit_set_limit(e, 1000);
	emit_array_begin(e, NULL);
	for (i = 0; i < 1000; i++)
		emit_str(e, NULL, "0123456789");
	emit_array_end(e);
}

START_TEST(misuse)
{
	enum emit_format fmt = _i ? EMIT_JSON : EMIT_TEXT;

	ck_misuse(fmt, m_no_key, "without a key");
	ck_misuse(fmt, m_unclosed, "2 unclosed");
	ck_misuse(fmt, m_wrong_end, "object end without its begin");
	ck_misuse(fmt, m_end_first, "array end without its begin");
	ck_misuse(fmt, m_two_values, "more than one top-level value");
	ck_misuse(fmt, m_deep, "nesting deeper than 16");
	ck_misuse(fmt, m_limit, "output larger than 1000 bytes");
	if (fmt == EMIT_TEXT)
		ck_misuse(fmt, m_columns, "more than 64 table columns");
}
END_TEST

/* Large tables: chunked output is complete and in order. */
static void
e_many_rows(struct emit *e)
{
	unsigned i;

	emit_array_begin(e, NULL);
	for (i = 0; i < 20000; i++) {
		emit_object_begin(e, NULL);
		emit_uint(e, "i", i);
		emit_strf(e, "s", "row-%u", i);
		emit_object_end(e);
	}
	emit_array_end(e);
}

START_TEST(many_rows)
{
	struct emit *e;
	const char *p;
	char	*all, *line, *save = NULL, want[64];
	size_t	 len, total = 0, k;
	unsigned n = 0;

	ck_assert_ptr_nonnull(e = emit_new(_i ? EMIT_JSON : EMIT_TEXT));
	e_many_rows(e);
	ck_assert_int_eq(emit_finish(e), 0);
	/* Drain in odd-sized pieces as the control server would. */
	ck_assert_ptr_nonnull(all = malloc(emit_pending(e) + 1));
	while ((p = emit_peek(e, &len)) != NULL) {
		k = len > 1000 ? 777 : len;
		memcpy(all + total, p, k);
		total += k;
		emit_consume(e, k);
	}
	all[total] = '\0';
	ck_assert_uint_eq(emit_pending(e), 0);
	emit_free(e);

	for (line = strtok_r(all, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), n++) {
		if (_i) {
			if (n == 0) {
				ck_assert_str_eq(line, "[");
				continue;
			}
			if (n == 20001) {
				ck_assert_str_eq(line, "]");
				continue;
			}
			snprintf(want, sizeof(want), "  {\"i\": %u, \"s\": "
			    "\"row-%u\"}%s", n - 1, n - 1, n < 20000 ? "," : "");
		} else if (n == 0)
			snprintf(want, sizeof(want), "    i  s");
		else
			snprintf(want, sizeof(want), "%5u  row-%u", n - 1,
			    n - 1);
		ck_assert_str_eq(line, want);
	}
	ck_assert_uint_eq(n, _i ? 20002 : 20001);
	free(all);
}
END_TEST

START_TEST(null_and_free)
{
	/* Calls on a NULL emitter are ignored; free(NULL) is fine. */
	emit_str(NULL, "k", "v");
	emit_uint(NULL, "k", 1);
	emit_array_begin(NULL, NULL);
	emit_array_end(NULL);
	emit_strf(NULL, "k", "%d", 1);
	emit_free(NULL);
	/* Freeing mid-way (a handler error) releases everything. */
	{
		struct emit *e = emit_new(EMIT_TEXT);

		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(emit_format(e), EMIT_TEXT);
		e_many_rows(e);
		emit_array_begin(e, NULL);
		emit_free(e);
	}
}
END_TEST

static Suite *
ctl_suite(void)
{
	Suite	*s = suite_create("ctl");
	TCase	*tc;

	tc = tcase_create("proto");
	tcase_add_test(tc, argv_valid);
	tcase_add_loop_test(tc, argv_invalid, 0,
	    sizeof(bad_argv) / sizeof(bad_argv[0]));
	tcase_add_test(tc, argv_tenant_chars);
	tcase_add_test(tc, cmd_info_table);
	tcase_add_test(tc, encode_exact);
	tcase_add_test(tc, encode_invalid);
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, parse_valid);
	tcase_add_loop_test(tc, parse_invalid, 0,
	    sizeof(bad_lines) / sizeof(bad_lines[0]));
	tcase_add_test(tc, parse_length);
	tcase_add_test(tc, status_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("emit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, json_shapes);
	tcase_add_loop_test(tc, strings_escaped, 0,
	    sizeof(strings) / sizeof(strings[0]));
	tcase_add_test(tc, json_keys_and_long);
	tcase_add_test(tc, text_table);
	tcase_add_test(tc, text_ragged);
	tcase_add_test(tc, text_object);
	tcase_add_test(tc, text_odd_shapes);
	tcase_add_loop_test(tc, misuse, 0, 2);
	tcase_add_loop_test(tc, many_rows, 0, 2);
	tcase_add_test(tc, null_and_free);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(ctl_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
