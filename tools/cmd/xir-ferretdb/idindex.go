package main

// FerretDB 1.24's SQLite backend finds the document an update or delete writes back by
// `_ferretdb_sjson->'$._id' = ?`, but indexes `_id` as `_ferretdb_sjson->"_id"`: SQLite sees two
// expressions, so each document an update or delete writes scans its whole table
// (https://github.com/FerretDB/FerretDB/issues/3235). An update of k documents then reads the
// collection k times while it holds SQLite's one writer, which MongoDB, whose `_id` is always
// indexed, never does. indexIDs gives every collection's table an index on the very expression
// those statements use, so a write by `_id` is an index lookup here too. FerretDB does not
// know of the index (it lists and drops only its own) and drops it with the table.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// idExpression is FerretDB's metadata.IDColumn: what its writes look documents up by.
const idExpression = `_ferretdb_sjson->'$._id'`

// sqliteDir is the directory of a FerretDB SQLite URL ("file:data/"), "" for any other.
func sqliteDir(sqliteURL string) string {
	u, err := url.Parse(sqliteURL)
	if err != nil || u.Scheme != "file" {
		return ""
	}
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Path
}

// indexIDs checks the databases in dir every interval until ctx ends: a file changed since
// its last check gets the index on each of its collections' tables that lacks one. A new
// collection is indexed within an interval of its creation, while it is still small.
func indexIDs(ctx context.Context, dir string, every time.Duration, logger *slog.Logger) {
	checked := map[string]time.Time{} // database file -> the change last seen
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			changed := lastChange(file)
			if changed.Equal(checked[file]) {
				continue
			}
			if err := indexFile(ctx, file); err != nil {
				logger.Warn("indexing _id", "file", file, "error", err)
				continue // tried again next time
			}
			checked[file] = changed
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// lastChange is when the database file or its write-ahead log last changed.
func lastChange(file string) time.Time {
	var latest time.Time
	for _, name := range []string{file, file + "-wal"} {
		if info, err := os.Stat(name); err == nil && info.ModTime().After(latest) {
			latest = info.ModTime()
		}
	}
	return latest
}

// indexFile creates the missing `_id` indexes of one database's tables.
func indexFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || '_xir_id')`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not set up yet
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, table := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, table+"_xir_id", table, idExpression)
		if _, err := db.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "no such table") {
			return err
		}
	}
	return nil
}
