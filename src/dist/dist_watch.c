/* sinreq: the rank watchdog (src/dist). Every collective's wait polls with
 * a deadline; a rank that waits more than 50 ms tells the others so
 * ("notice": I wait in collective #seq), so that at the deadline each
 * waiting rank knows which ranks never came: those it names, with the step
 * and the last good checkpoint, before MPI_Abort. Peers on the same node
 * are also looked up in /proc: a dead one is named at once, a stopped one
 * is said to be stopped. See include/sinreq/dist.h, docs/distributed.md. */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist_internal.h"

enum { NOTICE_WAIT = 1, NOTICE_END = 2 };
#define NOTICE_TAG 7

/* A rank's state in /proc: 0 and *state, *start; -1 gone; -2 unreadable. */
static int proc_state(long long pid, char *state, unsigned long long *start)
{
    char path[64], buf[1024], *p;
    FILE *f;
    size_t n;
    int field;

    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? -1 : -2;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ...": comm may hold spaces and parentheses */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -2;
    p += 2;
    *state = *p;
    /* starttime is field 22; field 3 is the state */
    for (field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p)
        return -2;
    *start = strtoull(p, NULL, 10);
    return 0;
}

static unsigned long long fnv(unsigned long long h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Same boot and pid namespace: the peer's pid means the same process here.
 * 0 when unknown (never compared). */
static unsigned long long host_id(void)
{
    char boot[128] = "", ns[128];
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    ssize_t n;

    if (!f)
        return 0;
    if (!fgets(boot, sizeof boot, f))
        boot[0] = '\0';
    fclose(f);
    n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    if (!boot[0] || n <= 0)
        return 0;
    ns[n] = '\0';
    return fnv(fnv(1469598103934665603ull, boot), ns) | 1;
}

sr_status sr_dist_watch_init(sr_dist *d)
{
    unsigned long long me[3] = {0, 0, 0}, *all;
    char st;
    int i;

    d->hb = MPI_COMM_NULL;
    d->hb_rreq = MPI_REQUEST_NULL;
    if (!d->uses_mpi || d->size < 2)
        return SR_OK;
    me[0] = (unsigned long long)getpid();
    if (proc_state((long long)getpid(), &st, &me[1]) != 0)
        me[1] = 0;
    me[2] = host_id();
    all = malloc((size_t)d->size * (3 * sizeof *all + sizeof d->node));
    d->peer = calloc((size_t)d->size, sizeof *d->peer);
    d->hb_sreq = malloc((size_t)d->size * sizeof *d->hb_sreq);
    d->hb_sbuf = calloc((size_t)d->size * 3, sizeof *d->hb_sbuf);
    if (!all || !d->peer || !d->hb_sreq || !d->hb_sbuf) {
        /* the others wait in the Allgather: exiting ends the job */
        free(all);
        sr_dist_watch_free(d);
        return sr_error(SR_E_NOMEM, "sr_dist_init: no memory for the "
                        "watchdog's table of %d ranks", d->size);
    }
    MPI_Allgather(me, 3, MPI_UNSIGNED_LONG_LONG, all, 3,
                  MPI_UNSIGNED_LONG_LONG, d->comm);
    /* the host names after the numbers, in the same buffer */
    MPI_Allgather(d->node, (int)sizeof d->node, MPI_CHAR,
                  (char *)(all + 3 * (size_t)d->size),
                  (int)sizeof d->node, MPI_CHAR, d->comm);
    for (i = 0; i < d->size; i++)
        memcpy(d->peer[i].node, (char *)(all + 3 * (size_t)d->size) +
               (size_t)i * sizeof d->node, sizeof d->node);
    MPI_Comm_dup(d->comm, &d->hb);
    for (i = 0; i < d->size; i++) {
        d->peer[i].pid = (long long)all[3 * i];
        d->peer[i].start = all[3 * i + 1];
        /* /proc tells about a peer only on the same host: the same boot,
         * pid namespace and host name (nodes emulated in namespaces of
         * one machine share the first two) */
        d->peer[i].host = all[3 * i + 2] == me[2] &&
                          !strcmp(d->peer[i].node, d->node)
                              ? all[3 * i + 2] : 0;
        d->hb_sreq[i] = MPI_REQUEST_NULL;
    }
    free(all);
    MPI_Irecv(d->hb_rbuf, 3, MPI_LONG_LONG, MPI_ANY_SOURCE, NOTICE_TAG,
              d->hb, &d->hb_rreq);
    return SR_OK;
}

void sr_dist_watch_free(sr_dist *d)
{
    int i;

    if (d->hb_rreq != MPI_REQUEST_NULL) {
        MPI_Cancel(&d->hb_rreq);
        MPI_Wait(&d->hb_rreq, MPI_STATUS_IGNORE);
    }
    /* a notice not yet delivered completes on its own (a few bytes) */
    for (i = 0; d->hb_sreq && i < d->size; i++)
        if (d->hb_sreq[i] != MPI_REQUEST_NULL)
            MPI_Request_free(&d->hb_sreq[i]);
    if (d->hb != MPI_COMM_NULL)
        MPI_Comm_free(&d->hb);
    free(d->peer);
    free(d->hb_sreq);
    free(d->hb_sbuf);
    d->peer = NULL;
    d->hb_sreq = NULL;
    d->hb_sbuf = NULL;
}

sr_status sr_dist_set_timeout(sr_dist *d, double seconds)
{
    SR_CHECK(d, SR_E_ARG, "sr_dist_set_timeout: d is NULL");
    SR_CHECK(isfinite(seconds) && seconds >= 0, SR_E_ARG,
             "sr_dist_set_timeout: %g seconds; expected >= 0 (0: off)",
             seconds);
    d->timeout = seconds;
    return SR_OK;
}

void sr_dist_set_context(sr_dist *d, long step, const char *ckpt)
{
    if (!d)
        return;
    d->step = step;
    if (ckpt)
        snprintf(d->ckpt, sizeof d->ckpt, "%s", ckpt);
}

void sr_dist_set_stop_flag(sr_dist *d, const volatile sig_atomic_t *flag)
{
    if (d)
        d->stop_flag = flag;
}

/* To every other rank that has no notice in flight (skipped otherwise: the
 * next one will do). */
static void notice(sr_dist *d, int kind, uint64_t seq, int about)
{
    int i, done;

    for (i = 0; i < d->size; i++) {
        long long *b = d->hb_sbuf + 3 * i;

        if (i == d->rank)
            continue;
        if (d->hb_sreq[i] != MPI_REQUEST_NULL) {
            MPI_Test(&d->hb_sreq[i], &done, MPI_STATUS_IGNORE);
            if (!done)
                continue;
        }
        b[0] = kind;
        b[1] = (long long)seq;
        b[2] = about;
        MPI_Isend(b, 3, MPI_LONG_LONG, i, NOTICE_TAG, d->hb, &d->hb_sreq[i]);
    }
}

/* Take the notices that came; an END notice (another rank ends the job)
 * returns its sender and sets *about to the rank it names. */
static int drain(sr_dist *d, double now, int *about)
{
    MPI_Status s;
    int flag, ender = -1;

    for (;;) {
        MPI_Test(&d->hb_rreq, &flag, &s);
        if (!flag)
            break;
        if (s.MPI_SOURCE >= 0 && s.MPI_SOURCE < d->size) {
            sr_dist_peer *p = &d->peer[s.MPI_SOURCE];

            if ((uint64_t)d->hb_rbuf[1] > p->seq || !p->heard)
                p->seq = (uint64_t)d->hb_rbuf[1];
            p->heard = 1;
            p->at = now;
            if (d->hb_rbuf[0] == NOTICE_END) {
                ender = s.MPI_SOURCE;
                *about = (int)d->hb_rbuf[2];
            }
        }
        MPI_Irecv(d->hb_rbuf, 3, MPI_LONG_LONG, MPI_ANY_SOURCE, NOTICE_TAG,
                  d->hb, &d->hb_rreq);
    }
    return ender;
}

/* A peer on this node whose process is gone or a zombie; -1: none. */
static int dead_peer(sr_dist *d)
{
    unsigned long long start;
    char st;
    int i, r;

    for (i = 0; i < d->size; i++) {
        if (i == d->rank || !d->peer[i].host)
            continue;
        r = proc_state(d->peer[i].pid, &st, &start);
        if (r == -1 || (r == 0 && (st == 'Z' || st == 'X' ||
                                   start != d->peer[i].start)))
            return i;
    }
    return -1;
}

/* " (pid N on this node: stopped)" for a peer whose /proc we can read. */
static void peer_detail(sr_dist *d, int i, char *out, size_t n)
{
    unsigned long long start;
    char st;
    int r;

    out[0] = '\0';
    if (!d->peer[i].host) {
        snprintf(out, n, " (on node %s)", d->peer[i].node);
        return;
    }
    r = proc_state(d->peer[i].pid, &st, &start);
    if (r == -1 || (r == 0 && start != d->peer[i].start))
        snprintf(out, n, " (pid %lld on this node: gone)", d->peer[i].pid);
    else if (r == 0)
        snprintf(out, n, " (pid %lld on this node: %s)", d->peer[i].pid,
                 st == 'T' || st == 't' ? "stopped" :
                 st == 'Z' || st == 'X' ? "dead" :
                 st == 'D' ? "blocked in the kernel (I/O)" :
                 st == 'R' ? "running" : "sleeping");
}

static double stale(const sr_dist *d);

/* The ranks this wait has no recent notice from, as text; their count. */
static int missing(sr_dist *d, uint64_t seq, double now, double stale,
                   char *out, size_t n)
{
    size_t o = 0;
    int i, k = 0;

    out[0] = '\0';
    for (i = 0; i < d->size && o + 1 < n; i++) {
        const sr_dist_peer *p = &d->peer[i];
        char det[96];

        if (i == d->rank || (p->heard && p->seq >= seq && now - p->at <= stale))
            continue;
        peer_detail(d, i, det, sizeof det);
        o += (size_t)snprintf(out + o, n - o, "%s%d%s", k ? ", " : "", i, det);
        k++;
    }
    return k;
}

/* Print this rank's message and end the job. */
static void end_job(sr_dist *d, uint64_t seq, double waited, double now,
                    const char *what, int dead, int ender, int about)
{
    char who[1024], det[96];
    int k, i;

    if (dead >= 0) {
        peer_detail(d, dead, det, sizeof det);
        fprintf(stderr, "sinreq: rank %d of %d: rank %d died%s while this "
                "rank waited for it in %s at global step %ld; last good "
                "checkpoint: %s; ending the job (exit %d)\n", d->rank,
                d->size, dead, det, what, d->step,
                d->ckpt[0] ? d->ckpt : "none yet", SR_DIST_EXIT_TIMEOUT);
        about = dead;
    } else {
        k = missing(d, seq, now, stale(d), who, sizeof who);
        if (!k && ender >= 0 && about >= 0) {
            peer_detail(d, about, det, sizeof det);
            snprintf(who, sizeof who, "%d%s", about, det);
            k = 1;
        }
        if (ender >= 0 && about == d->rank)
            /* continued by the launcher's SIGCONT after a stop */
            fprintf(stderr, "sinreq: rank %d of %d: rank %d ended the job: "
                    "this rank did not respond for %.0f s (stopped or "
                    "stuck) at global step %ld; last good checkpoint: %s; "
                    "ending the job (exit %d)\n", d->rank, d->size, ender,
                    d->timeout, d->step, d->ckpt[0] ? d->ckpt : "none yet",
                    SR_DIST_EXIT_TIMEOUT);
        else if (ender >= 0)
            fprintf(stderr, "sinreq: rank %d of %d: rank %d ended the job "
                    "after waiting %.0f s; %s %s did not respond (this rank "
                    "waited %.1f s in %s at global step %ld); last good "
                    "checkpoint: %s; ending the job (exit %d)\n", d->rank,
                    d->size, ender, d->timeout, k > 1 ? "ranks" : "rank",
                    k ? who : "?", waited, what, d->step,
                    d->ckpt[0] ? d->ckpt : "none yet", SR_DIST_EXIT_TIMEOUT);
        else
            fprintf(stderr, "sinreq: rank %d of %d: %s %s did not respond "
                    "for %.1f s (rank_timeout %g s) while this rank waited "
                    "in %s at global step %ld; last good checkpoint: %s; "
                    "ending the job (exit %d)\n", d->rank, d->size,
                    k > 1 ? "ranks" : k ? "rank" : "no rank reported; MPI "
                    "itself may be stuck;", k ? who : "", waited, d->timeout,
                    what, d->step, d->ckpt[0] ? d->ckpt : "none yet",
                    SR_DIST_EXIT_TIMEOUT);
        if (about < 0)
            for (i = 0; i < d->size && about < 0; i++)
                if (i != d->rank && !(d->peer[i].heard &&
                                      d->peer[i].seq >= seq))
                    about = i;
    }
    fflush(stderr);
    fflush(stdout);
    /* the other waiting ranks print their own line before the abort
     * reaches them: tell them, and give the notices a moment to leave */
    if (ender < 0) {
        double t0 = sr_dist_now();
        int flag = 0;

        notice(d, NOTICE_END, seq, about);
        while (!flag && sr_dist_now() - t0 < 0.5) {
            MPI_Testall(d->size, d->hb_sreq, &flag, MPI_STATUSES_IGNORE);
            if (!flag) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
        }
        /* a second for them to print (they abort at once on the notice) */
        if (d->size > 2)
            sleep(1);
    }
    MPI_Abort(MPI_COMM_WORLD, SR_DIST_EXIT_TIMEOUT);
    _exit(SR_DIST_EXIT_TIMEOUT);
}

/* Seconds between a waiting rank's notices, and the age after which a
 * rank's last notice no longer counts. */
static double every(const sr_dist *d)
{
    return d->timeout / 4 < 1.0 ? d->timeout / 4 : 1.0;
}

static double stale(const sr_dist *d)
{
    return 2 * every(d) + 1.0;
}

void sr_dist_wait(sr_dist *d, int n, MPI_Request *req, const char *what)
{
    double t0, t, now, next_notice = 0.05, next_look = 0.02, sig_at = -1;
    int flag = 0, said = 0, ender, about = -1;
    uint64_t seq;

    if (d->timeout <= 0 || !d->peer) {
        MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
        return;
    }
    seq = ++d->seq;
    MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE);
    if (flag)
        return;
    t0 = sr_dist_now();
    for (;;) {
        MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE);
        if (flag)
            return;
        now = sr_dist_now();
        t = now - t0;
        ender = drain(d, now, &about);
        if (ender >= 0)
            end_job(d, seq, t, now, what, -1, ender, about);
        if (t >= next_notice) {
            notice(d, NOTICE_WAIT, seq, -1);
            next_notice = t + every(d);
        }
        if (t >= next_look) {
            int dead = dead_peer(d);

            if (dead >= 0)
                end_job(d, seq, t, now, what, dead, -1, -1);
            next_look = t + 0.1;
        }
        if (t >= d->timeout)
            end_job(d, seq, t, now, what, -1, -1, -1);
        if (d->stop_flag && *d->stop_flag && !said) {
            if (sig_at < 0) {
                sig_at = t;
            } else if (t - sig_at >= 0.5) {
                char who[1024];
                int k = missing(d, seq, now, stale(d), who, sizeof who);

                fprintf(stderr, "sinreq: rank %d of %d: a stop signal came "
                        "while this rank waited %.1f s for %s %s in %s at "
                        "global step %ld (if %s died, the launcher ends the "
                        "job now); last good checkpoint: %s\n", d->rank,
                        d->size, t, k > 1 ? "ranks" : "rank",
                        k ? who : "?", what, d->step, k > 1 ? "they" : "it",
                        d->ckpt[0] ? d->ckpt : "none yet");
                fflush(stderr);
                said = 1;
            }
        }
        /* spin briefly (the usual wait is short), then leave the core to
         * the ranks being waited for */
        if (t > 0.05) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        } else if (t > 0.002) {
            sched_yield();
        }
    }
}
