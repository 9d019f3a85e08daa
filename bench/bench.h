/*
 * bench/bench.h - the entry point of `mmig bench`, for tools/mmig.c.
 *
 * The benchmark lives in bench/ (its drivers and README together) and is
 * linked into the mmig tool; this header is all the tool sees of it.
 */
#ifndef MMIG_BENCH_H
#define MMIG_BENCH_H

#include <stdio.h>

/* Run `mmig bench` with @p argv[0] == "bench".  @return the exit status:
 * 0 measured, 1 a measurement failed, 2 usage error. */
int mmig_bench_main(int argc, char **argv);

/*
 * `mmig bench-child KIND ARGS...`: one measurement that `mmig bench` runs
 * in this same program started afresh (see bench_exec()); not a command
 * for people.  @return its exit status.
 */
int mmig_bench_child_main(int argc, char **argv);

/* The usage text of `mmig bench --help`. */
void mmig_bench_usage(FILE *out);

#endif
