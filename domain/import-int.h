/*
 * domain/import-int.h - what the import shares inside the project: its
 * schemas, so that the benchmark's raw-SQLite floor writes the very same
 * tables.  Never installed.
 */
#ifndef MMIG_IMPORT_INT_H
#define MMIG_IMPORT_INT_H

/* CREATE TABLE IF NOT EXISTS statements, several separated by ';'. */
extern const char mmig__import_controller_schema[];
extern const char mmig__import_model_schema[];

#endif
