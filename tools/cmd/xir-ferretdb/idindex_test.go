package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func TestSqliteDirIsTheDirectoryOfAFileURL(t *testing.T) {
	for url, want := range map[string]string{
		"file:data/":        "data/",
		"file:/tmp/ferret/": "/tmp/ferret/",
		"postgres://x/":     "",
	} {
		if got := sqliteDir(url); got != want {
			t.Errorf("sqliteDir(%q) = %q, want %q", url, got, want)
		}
	}
}

// A collection's table as FerretDB lays it out: after indexFile, a write by _id (FerretDB's
// own statement) is an index search, not a scan of the table.
func TestEveryCollectionGetsAnIndexItsWritesByIDUse(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection throughout, as FerretDB keeps its own
	for _, q := range []string{
		`CREATE TABLE _ferretdb_collections (name TEXT, table_name TEXT, settings TEXT)`,
		`CREATE TABLE "tweets_1a2b" (_ferretdb_sjson TEXT NOT NULL CHECK(_ferretdb_sjson != '')) STRICT`,
		`INSERT INTO _ferretdb_collections VALUES ('tweets', 'tweets_1a2b', '{}')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	plan := func() string {
		var id, parent, unused int
		var detail string
		q := `EXPLAIN QUERY PLAN UPDATE "tweets_1a2b" SET _ferretdb_sjson = ? WHERE ` + idExpression + ` = ?`
		if err := db.QueryRowContext(ctx, q, "{}", "7").Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		return detail
	}
	if before := plan(); !strings.HasPrefix(before, "SCAN") {
		t.Fatalf("without the index: %q", before)
	}
	for range 2 { // a second pass finds nothing to do
		if err := indexFile(ctx, file); err != nil {
			t.Fatal(err)
		}
	}
	// FerretDB's connection, open all along, takes the new schema with its next statement.
	if _, err := db.ExecContext(ctx, `DELETE FROM "tweets_1a2b" WHERE `+idExpression+` = ?`, "7"); err != nil {
		t.Fatal(err)
	}
	if after := plan(); !strings.Contains(after, "USING INDEX tweets_1a2b_xir_id") {
		t.Fatalf("with the index: %q", after)
	}
}

func TestADatabaseFerretDBHasNotSetUpIsLeftAlone(t *testing.T) {
	file := filepath.Join(t.TempDir(), "new.sqlite")
	if err := indexFile(context.Background(), file); err != nil {
		t.Fatal(err)
	}
}
