/* Stop signals (SIGTERM / SIGUSR1, Slurm preemption): the handler sets a
 * flag; the loop checkpoints after the step and exits SR_EXIT_REQUEUE. */
#include "trainer.h"

volatile sig_atomic_t sr_train_stop_signal;

void sr_train_on_stop_signal(int sig)
{
    sr_train_stop_signal = sig;
}

/* One process reads its flag; several ranks use the value they agreed on
 * (the step's reduction, or sr_train_stop_agree at an epoch end), so that
 * all stop at the same step. */
int sr_train_stopping(struct trainer *tr)
{
    return tr->nranks > 1 ? tr->stop : sr_train_stop_signal != 0;
}

sr_status sr_train_stop_agree(struct trainer *tr)
{
    int any = 0;

    if (tr->nranks == 1)
        return SR_OK;
    SR_TRY(sr_dist_any(tr->d, sr_train_stop_signal != 0, &any));
    tr->stop = any;
    tr->stop_sig = sr_train_stop_signal ? sr_train_stop_signal : any ? -1 : 0;
    return SR_OK;
}

const char *sr_train_stop_name(struct trainer *tr)
{
    int sig = tr->nranks > 1 ? tr->stop_sig : sr_train_stop_signal;

    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" :
           sig < 0 ? "a signal to another rank" : "signal";
}
