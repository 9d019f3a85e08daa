#!/usr/bin/env bash
# A throw-away 3-member etcd cluster on loopback, for tests and benches.
#
#   etcd-cluster.sh run [--] CMD [ARG...]
#       Start a cluster in a fresh temp dir, run CMD with MMIG_ETCD_ENDPOINTS
#       (HOST:PORT,HOST:PORT,HOST:PORT), MMIG_ETCD_DIR (the cluster's dir) and
#       MMIG_ETCD_CLUSTER (this script) in its environment, stop the cluster
#       and remove the dir whatever happens, and exit with CMD's status.
#       Exits 77 (skip) with one line on stderr when etcd is not installed.
#   etcd-cluster.sh start DIR [OWNER_PID]
#       Start a cluster with its data in DIR (created; must be empty) and
#       print its endpoints.  With OWNER_PID, a watcher stops the cluster
#       once that process is gone, even if it was SIGKILLed.
#   etcd-cluster.sh stop DIR            SIGKILL every member; keep DIR.
#   etcd-cluster.sh kill DIR N|leader   SIGKILL member N (1..3) or the current
#                                       leader; prints the member's number.
#   etcd-cluster.sh restart DIR N...    start members N... again on their data
#                                       and wait until they are healthy.
#   etcd-cluster.sh leader DIR          print the leader's member number.
#   etcd-cluster.sh endpoints DIR       print the endpoints.
#
# Ports are picked at random among free ones (a start that loses a race for
# a port is retried on others).  Members log to DIR/mN.log.  Only processes
# whose pids this script recorded in DIR are ever signalled.
set -euo pipefail

prog=etcd-cluster
N=3

die() {
	echo "$prog: $*" >&2
	exit 1
}

have_etcd() {
	command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1
}

# True when something listens on 127.0.0.1:$1.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_ports() {
	local dir=$1 ports=() p
	while [ ${#ports[@]} -lt $((2 * N)) ]; do
		p=$((20000 + RANDOM % 40000))
		case " ${ports[*]:-} " in *" $p "*) continue ;; esac
		port_busy "$p" && continue
		ports+=("$p")
	done
	local i cluster=""
	for i in $(seq 1 $N); do
		echo "${ports[$((2 * i - 2))]}" >"$dir/m$i.cport"
		echo "${ports[$((2 * i - 1))]}" >"$dir/m$i.pport"
		cluster+="${cluster:+,}m$i=http://127.0.0.1:${ports[$((2 * i - 1))]}"
	done
	echo "$cluster" >"$dir/initial-cluster"
	local eps=""
	for i in $(seq 1 $N); do
		eps+="${eps:+,}127.0.0.1:$(cat "$dir/m$i.cport")"
	done
	echo "$eps" >"$dir/endpoints"
}

endpoint_of() {
	echo "127.0.0.1:$(cat "$1/m$2.cport")"
}

start_member() {
	local dir=$1 i=$2 state=${3:-new}
	local cport pport
	cport=$(cat "$dir/m$i.cport")
	pport=$(cat "$dir/m$i.pport")
	# Election and heartbeat are etcd's defaults; the machine is shared, and
	# shorter ones give spurious elections under load.
	etcd --name "m$i" --data-dir "$dir/m$i.data" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "$(cat "$dir/initial-cluster")" \
		--initial-cluster-state "$state" \
		--initial-cluster-token "mmig-$(basename "$dir")" \
		--logger zap --log-level warn \
		</dev/null >>"$dir/m$i.log" 2>&1 &
	echo $! >"$dir/m$i.pid"
}

member_alive() {
	local pid
	pid=$(cat "$1/m$2.pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null
}

member_healthy() {
	ETCDCTL_API=3 etcdctl --endpoints "$(endpoint_of "$1" "$2")" \
		--command-timeout 2s endpoint health >/dev/null 2>&1
}

# Wait up to $3 seconds for members $2 (a list) to be healthy.
wait_healthy() {
	local dir=$1 members=$2 secs=$3 i ok t=0
	while [ "$t" -lt $((secs * 5)) ]; do
		ok=1
		for i in $members; do
			member_alive "$dir" "$i" || return 1
			member_healthy "$dir" "$i" || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		sleep 0.2
		t=$((t + 1))
	done
	return 1
}

# True when process $1 has exited: gone, or a zombie with no thread left
# but its (zombie) leader.  A SIGKILLed multi-threaded process (etcd is
# Go) shows its leader as a zombie while its other threads are still
# exiting, for tens of milliseconds under load; its files -- the listening
# sockets -- are closed only when the last thread is gone, and until then
# a connection to its port is accepted and then reset.
exited() {
	local pid=$1 tasks
	kill -0 "$pid" 2>/dev/null || return 0
	[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || return 1
	tasks=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
	[ "$tasks" -le 1 ]
}

kill_member() {
	local dir=$1 i=$2 pid
	pid=$(cat "$dir/m$i.pid" 2>/dev/null) || return 0
	kill -9 "$pid" 2>/dev/null || true
	# Wait until it has exited and its ports refuse connections, so that
	# a request sent after this returns is refused (nothing applied), not
	# accepted by a dying member and cut, and the ports are free for a
	# restart.
	local t=0
	while [ $t -lt 400 ]; do
		if exited "$pid" && ! port_busy "$(cat "$dir/m$i.cport")" &&
			! port_busy "$(cat "$dir/m$i.pport")"; then
			break
		fi
		sleep 0.02
		t=$((t + 1))
	done
	[ $t -lt 400 ] || echo "$prog: member $i (pid $pid) still there 8 s after SIGKILL" >&2
	rm -f "$dir/m$i.pid"
}

cmd_stop() {
	local dir=$1 i
	for i in $(seq 1 $N); do kill_member "$dir" "$i"; done
	if [ -f "$dir/watcher.pid" ]; then
		kill "$(cat "$dir/watcher.pid")" 2>/dev/null || true
		rm -f "$dir/watcher.pid"
	fi
}

cmd_start() {
	local dir=$1 owner=${2:-} rm_dir=${3:-} try i all
	have_etcd || die "etcd or etcdctl not installed (Debian etcd-server, etcd-client)"
	mkdir -p "$dir"
	all=$(seq 1 $N | tr '\n' ' ')
	for try in 1 2 3 4 5; do
		rm -rf "$dir"/m*.data
		pick_ports "$dir"
		for i in $all; do start_member "$dir" "$i"; done
		if wait_healthy "$dir" "$all" 30; then
			break
		fi
		cmd_stop "$dir"
		[ "$try" = 5 ] && die "cluster did not become healthy; logs in $dir"
	done
	if [ -n "$owner" ]; then
		# Stop the members once the owner is gone, however it went.
		(
			trap '' HUP INT
			while kill -0 "$owner" 2>/dev/null; do sleep 1; done
			for i in $all; do
				pid=$(cat "$dir/m$i.pid" 2>/dev/null) || continue
				kill -9 "$pid" 2>/dev/null || true
			done
			if [ -n "$rm_dir" ]; then
				sleep 1
				rm -rf "$dir"
			fi
		) </dev/null >/dev/null 2>&1 &
		echo $! >"$dir/watcher.pid"
	fi
	cat "$dir/endpoints"
}

cmd_leader() {
	local dir=$1 i st
	for i in $(seq 1 $N); do
		member_alive "$dir" "$i" || continue
		# Columns: endpoint, id, version, db size, is leader, ...
		st=$(ETCDCTL_API=3 etcdctl --endpoints "$(endpoint_of "$dir" "$i")" \
			--command-timeout 2s endpoint status 2>/dev/null) || continue
		if [ "$(echo "$st" | awk -F', ' '{print $5}')" = true ]; then
			echo "$i"
			return 0
		fi
	done
	die "no leader among the live members of $dir"
}

cmd_kill() {
	local dir=$1 which=$2 i
	if [ "$which" = leader ]; then
		i=$(cmd_leader "$dir")
	else
		i=$which
	fi
	case "$i" in [1-9]) ;; *) die "kill: no member '$which'" ;; esac
	kill_member "$dir" "$i"
	echo "$i"
}

cmd_restart() {
	local dir=$1 i
	shift
	for i in "$@"; do
		member_alive "$dir" "$i" && die "restart: member $i is running"
	done
	for i in "$@"; do start_member "$dir" "$i" existing; done
	# Members started together: a quorum of them may be needed before
	# any reports healthy.
	wait_healthy "$dir" "$*" 30 ||
		die "restart: member(s) $* not healthy; see $dir/m*.log"
}

cmd_run() {
	[ "${1:-}" = "--" ] && shift
	[ $# -gt 0 ] || die "run: no command"
	if ! have_etcd; then
		echo "$prog: SKIP: etcd or etcdctl not installed (Debian etcd-server, etcd-client)" >&2
		exit 77
	fi
	local dir rc=0
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mmig-etcd.XXXXXX")
	trap 'cmd_stop "$dir"; rm -rf "$dir"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	MMIG_ETCD_ENDPOINTS=$(cmd_start "$dir" $$ rm)
	export MMIG_ETCD_ENDPOINTS MMIG_ETCD_DIR="$dir"
	MMIG_ETCD_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
	export MMIG_ETCD_CLUSTER
	echo "$prog: cluster $MMIG_ETCD_ENDPOINTS in $dir" >&2
	"$@" || rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		for f in "$dir"/m*.log; do
			echo "--- $f (last lines)" >&2
			tail -n 5 "$f" >&2 || true
		done
	fi
	exit $rc
}

[ $# -ge 1 ] || die "usage: $0 run|start|stop|kill|restart|leader|endpoints ..."
cmd=$1
shift
case "$cmd" in
run) cmd_run "$@" ;;
start) [ $# -ge 1 ] || die "start DIR [OWNER_PID]"; cmd_start "$@" ;;
stop) [ $# -eq 1 ] || die "stop DIR"; cmd_stop "$1" ;;
kill) [ $# -eq 2 ] || die "kill DIR N|leader"; cmd_kill "$1" "$2" ;;
restart) [ $# -ge 2 ] || die "restart DIR N..."; cmd_restart "$@" ;;
leader) [ $# -eq 1 ] || die "leader DIR"; cmd_leader "$1" ;;
endpoints) [ $# -eq 1 ] || die "endpoints DIR"; cat "$1/endpoints" ;;
*) die "unknown command '$cmd'" ;;
esac
