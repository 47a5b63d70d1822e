package main

// With -stats-every, the proxy reports which commands reached FerretDB in each interval: how
// many of each command on each collection and how long they took from request to reply
// (FerretDB's own work and any wait for a write lock). The benchmark reads it to say where the
// time of the MongoDB stand-in goes.

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

type askedCommand struct {
	key string // command and collection
	at  time.Time
}

type commandStat struct {
	count int64
	total time.Duration
	max   time.Duration
}

type commandStats struct {
	mu    sync.Mutex
	byKey map[string]*commandStat
}

func (s *commandStats) record(key string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = make(map[string]*commandStat)
	}
	stat, ok := s.byKey[key]
	if !ok {
		stat = new(commandStat)
		s.byKey[key] = stat
	}
	stat.count++
	stat.total += took
	stat.max = max(stat.max, took)
}

// report writes the interval's figures, the most time first, and starts the next interval.
func (s *commandStats) report(w io.Writer, interval time.Duration) {
	s.mu.Lock()
	byKey := s.byKey
	s.byKey = nil
	s.mu.Unlock()
	keys := make([]string, 0, len(byKey))
	for key := range byKey {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool { return byKey[keys[i]].total > byKey[keys[j]].total })
	fmt.Fprintf(w, "xir-ferretdb: commands in the last %s (count, total s, mean ms, max ms):\n", interval)
	for _, key := range keys {
		stat := byKey[key]
		fmt.Fprintf(w, "  %-40s %7d %8.2f %8.2f %8.1f\n", key, stat.count, stat.total.Seconds(),
			float64(stat.total.Microseconds())/1000/float64(stat.count), float64(stat.max.Microseconds())/1000)
	}
}

// reportEvery reports to w every interval, for good.
func (s *commandStats) reportEvery(w io.Writer, interval time.Duration) {
	for range time.Tick(interval) {
		s.report(w, interval)
	}
}
