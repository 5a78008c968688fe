/*
 * test_binding.c - the binding table: lookups, simultaneous bindings,
 * removal semantics of RFC 5944 §3.8.2.2, expiry on timers, notifications,
 * and hash behaviour under many nodes (backward-shift deletion).
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>

#include "binding.h"

static struct ev_loop *loop;
static struct binding_table *tbl;
static int n_added, n_renewed, n_removed, n_soft;
static enum binding_state last_removed_state;

static void
count_cb(void *arg, enum binding_event ev, const struct binding *b)
{
	(void)arg;
	switch (ev) {
	case BEV_ADDED: n_added++; break;
	case BEV_RENEWED: n_renewed++; break;
	case BEV_REMOVED: n_removed++; last_removed_state = b->state; break;
	case BEV_SOFT_STATE: n_soft++; break;
	}
}

static struct in_addr
A(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static struct binding_params
P(const char *coa, uint16_t lifetime)
{
	struct binding_params p = { 0 };

	p.coa = A(coa);
	p.src = p.coa;
	p.lifetime = lifetime;
	p.sport = 434;
	return p;
}

static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	tbl = binding_table_new(loop, 16);
	ck_assert_ptr_nonnull(tbl);
	ck_assert_int_eq(binding_subscribe(tbl, count_cb, NULL), 0);
	n_added = n_renewed = n_removed = n_soft = 0;
}

static void
teardown(void)
{
	binding_table_free(tbl);
	ev_loop_destroy(loop);
}

START_TEST(single_binding_replaces)
{
	struct binding_params p1 = P("198.51.100.20", 600);
	struct binding_params p2 = P("198.51.100.21", 600);
	struct binding *b;

	b = binding_set(tbl, 1, A("198.18.10.5"), &p1, false);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(n_added, 1);
	/* S clear: the new care-of address replaces the old one. */
	b = binding_set(tbl, 1, A("198.18.10.5"), &p2, false);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(binding_count(tbl), 1);
	ck_assert_uint_eq(binding_count_node(tbl, 1, A("198.18.10.5")), 1);
	ck_assert_uint_eq(binding_lookup(tbl, 1, A("198.18.10.5"))->coa.s_addr,
	    A("198.51.100.21").s_addr);
	ck_assert_int_eq(n_removed, 1);
	ck_assert_int_eq(last_removed_state, BINDING_CLEARED);
	/* Same CoA again: a renewal, not a new binding. */
	binding_set(tbl, 1, A("198.18.10.5"), &p2, false);
	ck_assert_int_eq(n_renewed, 1);
	ck_assert_uint_eq(binding_count(tbl), 1);
	/* The data plane's path MTU soft state reaches the subscribers too. */
	b->path_mtu = 1400;
	binding_soft_changed(tbl, b);
	ck_assert_int_eq(n_soft, 1);
	ck_assert_int_eq(n_renewed, 1);
}
END_TEST

START_TEST(simultaneous_bindings)
{
	struct binding_params p1 = P("198.51.100.20", 600);
	struct binding_params p2 = P("198.51.100.21", 600);
	struct binding_params p3 = P("198.51.100.22", 600);

	binding_set(tbl, 1, A("198.18.10.5"), &p1, true);
	binding_set(tbl, 1, A("198.18.10.5"), &p2, true);
	binding_set(tbl, 1, A("198.18.10.5"), &p3, true);
	ck_assert_uint_eq(binding_count(tbl), 3);
	ck_assert_uint_eq(binding_nodes(tbl), 1);
	ck_assert_ptr_nonnull(binding_lookup_coa(tbl, 1, A("198.18.10.5"),
	    A("198.51.100.21")));
	/* Lifetime 0 with a CoA: only that entry goes (RFC 5944 §3.8.2.2). */
	ck_assert_uint_eq(binding_remove_coa(tbl, 1, A("198.18.10.5"),
	    A("198.51.100.21"), BINDING_DEREGISTERED), 1);
	ck_assert_uint_eq(binding_count(tbl), 2);
	ck_assert_ptr_null(binding_lookup_coa(tbl, 1, A("198.18.10.5"),
	    A("198.51.100.21")));
	ck_assert_uint_eq(binding_remove_coa(tbl, 1, A("198.18.10.5"),
	    A("198.51.100.99"), BINDING_DEREGISTERED), 0);
	/* CoA == HoA: all of them. */
	ck_assert_uint_eq(binding_remove_node(tbl, 1, A("198.18.10.5"),
	    BINDING_DEREGISTERED), 2);
	ck_assert_uint_eq(binding_count(tbl), 0);
	ck_assert_uint_eq(binding_nodes(tbl), 0);
	ck_assert_ptr_null(binding_lookup(tbl, 1, A("198.18.10.5")));
	ck_assert_int_eq(last_removed_state, BINDING_DEREGISTERED);
}
END_TEST

START_TEST(tenants_are_separate_keys)
{
	struct binding_params p = P("198.51.100.20", 600);

	binding_set(tbl, 1, A("198.18.10.5"), &p, false);
	ck_assert_ptr_null(binding_lookup(tbl, 2, A("198.18.10.5")));
	binding_set(tbl, 2, A("198.18.10.5"), &p, false);
	ck_assert_uint_eq(binding_nodes(tbl), 2);
	binding_remove_node(tbl, 1, A("198.18.10.5"), BINDING_CLEARED);
	ck_assert_ptr_nonnull(binding_lookup(tbl, 2, A("198.18.10.5")));
}
END_TEST

static void
stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

START_TEST(expiry_on_timer)
{
	struct binding_params p = P("198.51.100.20", 1);
	ev_timer guard;

	binding_set(tbl, 1, A("198.18.10.5"), &p, false);
	ck_assert_uint_le(binding_remaining(tbl,
	    binding_lookup(tbl, 1, A("198.18.10.5"))), 1);
	ev_timer_init(&guard, stop_cb, 1.5, 0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	ck_assert_uint_eq(binding_count(tbl), 0);
	ck_assert_int_eq(last_removed_state, BINDING_EXPIRED);
}
END_TEST

static bool
match_odd(void *arg, const struct binding *b)
{
	(void)arg;
	return ntohl(b->hoa.s_addr) & 1;
}

static int
count_visit(void *arg, const struct binding *b)
{
	(void)b;
	(*(size_t *)arg)++;
	return 0;
}

START_TEST(many_nodes_and_remove_if)
{
	const uint32_t base = 0xc6120000;	/* 198.18.0.0/15 */
	const size_t n = 100000;
	struct binding_params p = P("198.51.100.20", 600);
	size_t visited = 0;

	for (size_t i = 0; i < n; i++) {
		struct in_addr hoa = { htonl(base + (uint32_t)i) };

		ck_assert_ptr_nonnull(binding_set(tbl, (uint32_t)(i % 3), hoa, &p,
		    false));
	}
	ck_assert_uint_eq(binding_nodes(tbl), n);
	for (size_t i = 0; i < n; i++) {
		struct in_addr hoa = { htonl(base + (uint32_t)i) };

		ck_assert_ptr_nonnull(binding_lookup(tbl, (uint32_t)(i % 3), hoa));
		ck_assert_ptr_null(binding_lookup(tbl, (uint32_t)(i % 3) + 3, hoa));
	}
	ck_assert_uint_eq(binding_remove_if(tbl, match_odd, NULL,
	    BINDING_CLEARED), n / 2);
	ck_assert_uint_eq(binding_nodes(tbl), n / 2);
	/* Every even node still findable after all the backward shifts. */
	for (size_t i = 0; i < n; i++) {
		struct in_addr hoa = { htonl(base + (uint32_t)i) };
		struct binding *b = binding_lookup(tbl, (uint32_t)(i % 3), hoa);

		if (i & 1)
			ck_assert_ptr_null(b);
		else
			ck_assert_ptr_nonnull(b);
	}
	binding_foreach(tbl, count_visit, &visited);
	ck_assert_uint_eq(visited, n / 2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("binding");
	TCase *tc = tcase_create("table");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, single_binding_replaces);
	tcase_add_test(tc, simultaneous_bindings);
	tcase_add_test(tc, tenants_are_separate_keys);
	tcase_add_test(tc, expiry_on_timer);
	tcase_add_test(tc, many_nodes_and_remove_if);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
