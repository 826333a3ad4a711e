package failover

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// ErrIsolated is what probes of an isolated node fail with.
var ErrIsolated = errors.New("isolated by a drill: unreachable from switchyard")

// Isolate simulates (on=true) or ends (on=false) a network partition between
// Switchyard and a node, for the isolate-master drill: every probe of an
// isolated node fails as if it were unreachable, while the servers
// themselves (and their replication) are untouched. The proxy should refuse
// the node too: it can ask Isolated before dialing.
func (m *Manager) Isolate(node string, on bool) error {
	if _, ok := m.nodeConfig(node); !ok {
		return fmt.Errorf("%w %q", ErrUnknownNode, node)
	}
	mon := m.mon
	mon.dbMu.Lock()
	old, had := mon.dbs[node]
	if on {
		if had && isIsolatedDB(old) {
			mon.dbMu.Unlock()
			return nil
		}
		// The probe takes its pool from this map: a pool whose every
		// connection attempt fails makes the probe fail like a lost route.
		mon.dbs[node] = sql.OpenDB(isolatedConnector{node: node})
		mon.isolated.Add(1)
	} else {
		if !had || !isIsolatedDB(old) {
			mon.dbMu.Unlock()
			return nil
		}
		delete(mon.dbs, node) // the next probe opens a real pool again
		mon.isolated.Add(-1)
	}
	mon.dbMu.Unlock()
	if had {
		_ = old.Close()
	}
	detail := "isolated"
	if !on {
		detail = "reachable again"
	}
	m.events.add(Event{Kind: EventDrill, Node: node, Reason: "network isolation simulated by a drill", Detail: detail, Outcome: OutcomeOK})
	return nil
}

// Isolated reports whether Isolate(node, true) is in effect.
func (m *Manager) Isolated(node string) bool {
	if m.mon.isolated.Load() == 0 {
		return false
	}
	m.mon.dbMu.Lock()
	defer m.mon.dbMu.Unlock()
	db, ok := m.mon.dbs[node]
	return ok && isIsolatedDB(db)
}

func isIsolatedDB(db *sql.DB) bool {
	_, ok := db.Driver().(isolatedDriver)
	return ok
}

type isolatedConnector struct{ node string }

func (c isolatedConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, fmt.Errorf("node %s: %w", c.node, ErrIsolated)
}

func (isolatedConnector) Driver() driver.Driver { return isolatedDriver{} }

type isolatedDriver struct{}

func (isolatedDriver) Open(string) (driver.Conn, error) { return nil, ErrIsolated }
