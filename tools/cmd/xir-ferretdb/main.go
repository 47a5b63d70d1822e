// Command xir-ferretdb runs FerretDB (a MongoDB wire-protocol server) for the tests on
// machines without Docker, through FerretDB's embeddable package.
//
// Building FerretDB's own cmd/ferretdb from the module cache panics at start (its version
// files are generated in FerretDB's repository and are not in the module), so this module
// pins FerretDB and wraps the embeddable API instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI (sqlite handler)")
	postgresURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgresql handler)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	statsEvery := flag.Duration("stats-every", 0, "report the commands served and their times to stderr at this interval (0: never)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "xir-ferretdb: invalid -log-level %q\n", *logLevel)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// FerretDB listens on a socket of its own; clients reach it through the proxy that makes
	// single-document writes atomic (serialise.go).
	socketDir, err := os.MkdirTemp("", "xir-ferretdb-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "xir-ferretdb: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(socketDir)
	socket := filepath.Join(socketDir, "ferretdb.sock")

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{Unix: socket},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *postgresURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "xir-ferretdb: %v\n", err)
		os.Exit(1)
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "xir-ferretdb: %v\n", err)
		os.Exit(1)
	}
	proxy := &serialisingProxy{
		dial:   func() (net.Conn, error) { return net.Dial("unix", socket) },
		logger: logger,
	}
	if *statsEvery > 0 {
		proxy.stats = new(commandStats)
		go proxy.stats.reportEvery(os.Stderr, *statsEvery)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		listener.Close()
	}()
	if dir := sqliteDir(*sqliteURL); *handler == "sqlite" && dir != "" {
		go indexIDs(ctx, dir, 250*time.Millisecond, logger)
	}
	served := make(chan error, 1)
	go func() { served <- proxy.serve(listener) }()
	logger.Info("listening", "addr", *listen)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "xir-ferretdb: %v\n", err)
		os.Exit(1)
	}
	if err := <-served; err != nil {
		fmt.Fprintf(os.Stderr, "xir-ferretdb: %v\n", err)
		os.Exit(1)
	}
}
