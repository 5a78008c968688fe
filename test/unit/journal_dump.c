/*
 * journal_dump - print the bindings a mipha journal would restore.
 *
 *	journal_dump [-a] [-e now|SECONDS] STATE_DIR|FILE
 *
 * Default: the live set after replay (later record for (tenant, HoA, CoA)
 * wins, UNBIND and UNBIND_ALL remove), one line per binding sorted by
 * tenant, HoA, CoA, so two dumps can be diffed.  -a: every record in commit
 * order instead.  -e: leave out bindings whose expiry is not after the given
 * time ("now": the current CLOCK_REALTIME second), as the daemon does at
 * start.
 *
 * Reads without taking the lock and without repairing: safe on a running
 * daemon's journal.  A torn tail is reported on stderr, like a summary.
 * Exit status: 0, 1 when the journal cannot be read (damage is named with
 * its offset), 2 on usage errors.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

struct node {
	struct journal_rec	 rec;	/* the last BIND or UNBIND of the key */
	uint64_t		 seq;	/* its position in the journal */
	uint64_t		 wiped;	/* UNBIND_ALL key: its position */
};

static void	*bindings;	/* tsearch tree keyed by tenant, HoA, CoA */
static void	*wipes;		/* tsearch tree keyed by tenant, HoA */
static uint64_t	 nseen, nlive;
static int64_t	 cutoff;
static bool	 use_cutoff;

static int
cmp_node(const struct node *a, const struct node *b, bool coa)
{
	int c;

	if ((c = strcmp(a->rec.tenant, b->rec.tenant)) != 0)
		return c;
	if (a->rec.hoa.s_addr != b->rec.hoa.s_addr)
		return ntohl(a->rec.hoa.s_addr) < ntohl(b->rec.hoa.s_addr) ?
		    -1 : 1;
	if (coa && a->rec.coa.s_addr != b->rec.coa.s_addr)
		return ntohl(a->rec.coa.s_addr) < ntohl(b->rec.coa.s_addr) ?
		    -1 : 1;
	return 0;
}

static int
cmp_binding(const void *a, const void *b)
{
	return cmp_node(a, b, true);
}

static int
cmp_wipe(const void *a, const void *b)
{
	return cmp_node(a, b, false);
}

static void
print_escaped(const char *key, const uint8_t *p, size_t n)
{
	size_t i;

	printf(" %s=", key);
	for (i = 0; i < n; i++)
		if (isgraph(p[i]) && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
}

static void
print_rec(const struct journal_rec *r)
{
	static const char *ops[] = { "?", "BIND", "UNBIND", "UNBIND_ALL" };
	char hoa[INET_ADDRSTRLEN], coa[INET_ADDRSTRLEN], src[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &r->hoa, hoa, sizeof(hoa));
	inet_ntop(AF_INET, &r->coa, coa, sizeof(coa));
	inet_ntop(AF_INET, &r->src, src, sizeof(src));
	printf("%s", ops[r->op >= JREC_BIND && r->op <= JREC_UNBIND_ALL ?
	    r->op : 0]);
	print_escaped("tenant", (const uint8_t *)r->tenant,
	    strlen(r->tenant));
	printf(" hoa=%s coa=%s src=%s:%u lifetime=%u expires=%" PRId64
	    " ident=0x%016" PRIx64 " flags=0x%02x encap=%u gre_key=%" PRIu32
	    " udp=%d", hoa, coa, src, r->src_port, r->lifetime, r->expires,
	    r->ident, r->flags, r->encap, r->gre_key, r->udp_tunnel);
	if (r->nai_len > 0)
		print_escaped("nai", r->nai, r->nai_len);
	putchar('\n');
}

static int
print_cb(void *arg, const struct journal_rec *r)
{
	(void)arg;
	nseen++;
	print_rec(r);
	return 0;
}

static int
apply_cb(void *arg, const struct journal_rec *r)
{
	struct node *n, **found;
	void **tree;

	(void)arg;
	nseen++;
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		perror("journal_dump");
		return 1;
	}
	n->rec = *r;
	n->seq = n->wiped = nseen;
	tree = r->op == JREC_UNBIND_ALL ? &wipes : &bindings;
	found = tsearch(n, tree, r->op == JREC_UNBIND_ALL ? cmp_wipe :
	    cmp_binding);
	if (found == NULL) {
		perror("journal_dump");
		free(n);
		return 1;
	}
	if (*found != n) {
		/* The later record for the key wins. */
		**found = *n;
		free(n);
	}
	return 0;
}

static void
print_live(const void *nodep, VISIT which, int depth)
{
	const struct node *n = *(const struct node *const *)nodep;
	struct node **w;

	(void)depth;
	if (which != postorder && which != leaf)
		return;
	if (n->rec.op != JREC_BIND)
		return;
	w = tfind(n, &wipes, cmp_wipe);
	if (w != NULL && (*w)->wiped > n->seq)
		return;
	if (use_cutoff && n->rec.expires <= cutoff)
		return;
	nlive++;
	print_rec(&n->rec);
}

static void
usage(void)
{
	fprintf(stderr, "usage: journal_dump [-a] [-e now|SECONDS] "
	    "STATE_DIR|FILE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct journal_stats st;
	struct stat sb;
	char path[4096], err[512], *end;
	bool all = false;
	int ch, r;

	while ((ch = getopt(argc, argv, "ae:")) != -1) {
		switch (ch) {
		case 'a':
			all = true;
			break;
		case 'e':
			use_cutoff = true;
			if (strcmp(optarg, "now") == 0) {
				cutoff = (int64_t)time(NULL);
				break;
			}
			errno = 0;
			cutoff = strtoll(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0')
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	if (stat(argv[optind], &sb) == 0 && S_ISDIR(sb.st_mode))
		snprintf(path, sizeof(path), "%s/journal", argv[optind]);
	else
		snprintf(path, sizeof(path), "%s", argv[optind]);

	r = journal_read_file(path, all ? print_cb : apply_cb, NULL, &st, err,
	    sizeof(err));
	if (r == -1) {
		fprintf(stderr, "journal_dump: %s\n", err);
		return 1;
	}
	if (r != 0)
		return 1;
	if (!all)
		twalk(bindings, print_live);
	tdestroy(bindings, free);
	tdestroy(wipes, free);
	fprintf(stderr, "# %s: %" PRIu64 " bytes, %" PRIu64 " records",
	    path, st.file_bytes, nseen);
	if (!all)
		fprintf(stderr, ", %" PRIu64 " live bindings", nlive);
	if (st.tail_bytes > 0)
		fprintf(stderr, ", torn tail of %" PRIu64 " bytes at offset %"
		    PRIu64 " (cut at the daemon's next start)", st.tail_bytes,
		    st.tail_offset);
	fputc('\n', stderr);
	return 0;
}
