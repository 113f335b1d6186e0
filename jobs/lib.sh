# Sourced by the jobs scripts: where the sinreq programs are, so the same
# scripts run from a checkout (after `cmake --build build`) and from an
# installed copy (`cmake --install`, scripts in PREFIX/share/sinreq/jobs).
#
# sr_bin NAME prints the path of sinreq, sinreq-prep, sinreq-plot or
# sinreq-report: $SINREQ_BIN_DIR/NAME when that is set; else, for an
# installed copy, PREFIX/bin/NAME; else the checkout's build tree
# (build/src/cli, build/data_prep); else NAME as found on PATH.
sr_jobs_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

sr_bin() {
    local name=$1 p
    if [ -n "${SINREQ_BIN_DIR:-}" ]; then
        echo "$SINREQ_BIN_DIR/$name"
        return
    fi
    case "$sr_jobs_dir" in
    */share/sinreq/jobs)
        p=${sr_jobs_dir%/share/sinreq/jobs}/bin/$name
        [ -x "$p" ] && { echo "$p"; return; } ;;
    esac
    case "$name" in
    sinreq-prep) p=$sr_jobs_dir/../build/data_prep/$name ;;
    *) p=$sr_jobs_dir/../build/src/cli/$name ;;
    esac
    if [ -x "$p" ]; then
        echo "$(cd "$(dirname "$p")" && pwd)/$name"
        return
    fi
    command -v "$name" || echo "$name"
}
